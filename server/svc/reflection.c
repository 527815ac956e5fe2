/* gRPC server reflection (v1 and v1alpha, identical on the wire) from the
 * FileDescriptorSet that the build generates and embeds.
 *
 * At start the set is split into its files, keeping each file's exact
 * serialized bytes (that is what clients get back), and every symbol a
 * client may ask about is indexed: packages' services, methods, messages
 * (nested too), fields, enums and enum values. Answers carry the file and
 * everything it imports, transitively. */
#include "svc/reflection.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

extern const uint8_t atoll_descriptor_set[];
extern const uint8_t atoll_descriptor_set_end[];

struct file {
	const uint8_t *bytes;
	size_t len;
	Google__Protobuf__FileDescriptorProto *fd;
	size_t *deps; /* indexes of imported files */
	size_t ndeps;
};

struct symbol {
	char *name;
	size_t file;
};

struct reflection {
	struct file *files;
	size_t nfiles;
	struct symbol *syms;
	size_t nsyms, capsyms;
	/* Services served by this server, fully qualified. */
	char **services;
	size_t nservices;
};

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -EBADMSG;
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static int add_symbol(struct reflection *r, const char *scope, const char *name,
		      size_t file)
{
	if (r->nsyms == r->capsyms) {
		size_t cap = r->capsyms ? r->capsyms * 2 : 256;
		struct symbol *s = realloc(r->syms, cap * sizeof *s);
		if (!s)
			return -ENOMEM;
		r->syms = s;
		r->capsyms = cap;
	}
	char *full;
	if (asprintf(&full, "%s%s%s", scope, *scope ? "." : "", name) < 0)
		return -ENOMEM;
	r->syms[r->nsyms++] = (struct symbol){ full, file };
	return 0;
}

static int index_enum(struct reflection *r, const char *scope,
		      const Google__Protobuf__EnumDescriptorProto *e, size_t file)
{
	int err = add_symbol(r, scope, e->name, file);
	/* Enum values live in the scope enclosing the enum (C++ rules). */
	for (size_t i = 0; i < e->n_value && !err; i++)
		err = add_symbol(r, scope, e->value[i]->name, file);
	return err;
}

static int index_message(struct reflection *r, const char *scope,
			 const Google__Protobuf__DescriptorProto *m, size_t file)
{
	int err = add_symbol(r, scope, m->name, file);
	if (err)
		return err;
	char *inner;
	if (asprintf(&inner, "%s%s%s", scope, *scope ? "." : "", m->name) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_field && !err; i++)
		err = add_symbol(r, inner, m->field[i]->name, file);
	for (size_t i = 0; i < m->n_extension && !err; i++)
		err = add_symbol(r, inner, m->extension[i]->name, file);
	for (size_t i = 0; i < m->n_nested_type && !err; i++)
		err = index_message(r, inner, m->nested_type[i], file);
	for (size_t i = 0; i < m->n_enum_type && !err; i++)
		err = index_enum(r, inner, m->enum_type[i], file);
	free(inner);
	return err;
}

static int index_file(struct reflection *r, size_t idx)
{
	const Google__Protobuf__FileDescriptorProto *fd = r->files[idx].fd;
	const char *pkg = fd->package ? fd->package : "";
	int err = 0;
	for (size_t i = 0; i < fd->n_message_type && !err; i++)
		err = index_message(r, pkg, fd->message_type[i], idx);
	for (size_t i = 0; i < fd->n_enum_type && !err; i++)
		err = index_enum(r, pkg, fd->enum_type[i], idx);
	for (size_t i = 0; i < fd->n_extension && !err; i++)
		err = add_symbol(r, pkg, fd->extension[i]->name, idx);
	for (size_t i = 0; i < fd->n_service && !err; i++) {
		const Google__Protobuf__ServiceDescriptorProto *s = fd->service[i];
		err = add_symbol(r, pkg, s->name, idx);
		char *svc;
		if (!err && asprintf(&svc, "%s%s%s", pkg, *pkg ? "." : "", s->name) < 0)
			err = -ENOMEM;
		for (size_t k = 0; k < s->n_method && !err; k++)
			err = add_symbol(r, svc, s->method[k]->name, idx);
		if (!err)
			free(svc);
	}
	return err;
}

static int cmp_symbol(const void *a, const void *b)
{
	return strcmp(((const struct symbol *)a)->name, ((const struct symbol *)b)->name);
}

static long find_file(const struct reflection *r, const char *name)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].fd->name, name) == 0)
			return (long)i;
	return -1;
}

static long find_symbol(const struct reflection *r, const char *name)
{
	struct symbol key = { (char *)name, 0 };
	const struct symbol *s = bsearch(&key, r->syms, r->nsyms, sizeof key, cmp_symbol);
	return s ? (long)s->file : -1;
}

/* Is some registered method path under service `svc` ("/svc/...")? */
static bool served(const rpc_server *s, const char *svc)
{
	size_t n = strlen(svc);
	for (size_t i = 0; i < rpc_server_method_count(s); i++) {
		const char *path = rpc_server_method_path(s, i);
		if (path[0] == '/' && strncmp(path + 1, svc, n) == 0 && path[n + 1] == '/')
			return true;
	}
	return false;
}

int reflection_new(struct reflection **ret, char *err, size_t err_size)
{
	struct reflection *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	const uint8_t *p = atoll_descriptor_set, *end = atoll_descriptor_set_end;
	int e = 0;
	while (p < end) {
		uint64_t key, len;
		if ((e = read_varint(&p, end, &key)) < 0 || key != ((1 << 3) | 2) ||
		    (e = read_varint(&p, end, &len)) < 0 || len > (uint64_t)(end - p)) {
			snprintf(err, err_size, "embedded descriptor set is corrupt");
			e = -EBADMSG;
			goto fail;
		}
		struct file *files = realloc(r->files, (r->nfiles + 1) * sizeof *files);
		if (!files) {
			e = -ENOMEM;
			goto fail;
		}
		r->files = files;
		struct file *f = &r->files[r->nfiles];
		memset(f, 0, sizeof *f);
		f->bytes = p;
		f->len = (size_t)len;
		f->fd = google__protobuf__file_descriptor_proto__unpack(NULL, f->len, p);
		if (!f->fd || !f->fd->name) {
			snprintf(err, err_size, "embedded descriptor set: file %zu does not parse",
				 r->nfiles);
			e = -EBADMSG;
			goto fail;
		}
		r->nfiles++;
		p += len;
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		struct file *f = &r->files[i];
		f->deps = calloc(f->fd->n_dependency + 1, sizeof *f->deps);
		if (!f->deps) {
			e = -ENOMEM;
			goto fail;
		}
		for (size_t k = 0; k < f->fd->n_dependency; k++) {
			long d = find_file(r, f->fd->dependency[k]);
			if (d < 0) {
				snprintf(err, err_size, "descriptor set lacks %s (imported by %s)",
					 f->fd->dependency[k], f->fd->name);
				e = -EBADMSG;
				goto fail;
			}
			f->deps[f->ndeps++] = (size_t)d;
		}
		if ((e = index_file(r, i)) < 0)
			goto fail;
	}
	qsort(r->syms, r->nsyms, sizeof *r->syms, cmp_symbol);

	*ret = r;
	return 0;
fail:
	reflection_free(r);
	return e;
}

int reflection_list_served(struct reflection *r, const rpc_server *s)
{
	/* Services: those of the set with at least one method registered. */
	r->services = calloc(r->nsyms + 1, sizeof *r->services);
	if (!r->services)
		return -ENOMEM;
	for (size_t i = 0; i < r->nfiles; i++) {
		const Google__Protobuf__FileDescriptorProto *fd = r->files[i].fd;
		for (size_t k = 0; k < fd->n_service; k++) {
			char *name;
			if (asprintf(&name, "%s%s%s", fd->package ? fd->package : "",
				     fd->package ? "." : "", fd->service[k]->name) < 0)
				return -ENOMEM;
			if (served(s, name))
				r->services[r->nservices++] = name;
			else
				free(name);
		}
	}
	return 0;
}

void reflection_free(struct reflection *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfiles; i++) {
		google__protobuf__file_descriptor_proto__free_unpacked(r->files[i].fd, NULL);
		free(r->files[i].deps);
	}
	free(r->files);
	for (size_t i = 0; i < r->nsyms; i++)
		free(r->syms[i].name);
	free(r->syms);
	for (size_t i = 0; i < r->nservices; i++)
		free(r->services[i]);
	free(r->services);
	free(r);
}

size_t reflection_service_count(const struct reflection *r)
{
	return r->nservices;
}

const char *reflection_service(const struct reflection *r, size_t i)
{
	return i < r->nservices ? r->services[i] : NULL;
}

bool reflection_has_symbol(const struct reflection *r, const char *name)
{
	return find_symbol(r, name) >= 0;
}

/* Depth-first: dependencies before the file itself. */
static void collect(const struct reflection *r, size_t idx, bool *seen,
		    ProtobufCBinaryData *out, size_t *n)
{
	if (seen[idx])
		return;
	seen[idx] = true;
	for (size_t k = 0; k < r->files[idx].ndeps; k++)
		collect(r, r->files[idx].deps[k], seen, out, n);
	out[*n].data = (uint8_t *)r->files[idx].bytes;
	out[*n].len = r->files[idx].len;
	(*n)++;
}

static void answer(rpc_call *call, const struct reflection *r,
		   const Grpc__Reflection__V1__ServerReflectionRequest *req)
{
	Grpc__Reflection__V1__ServerReflectionResponse resp =
		GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
	Grpc__Reflection__V1__FileDescriptorResponse fdr =
		GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
	Grpc__Reflection__V1__ListServiceResponse lsr =
		GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
	Grpc__Reflection__V1__ExtensionNumberResponse enr =
		GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
	Grpc__Reflection__V1__ErrorResponse er = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
	char msg[512];
	long file = -1;

	resp.valid_host = req->host;
	resp.original_request = (Grpc__Reflection__V1__ServerReflectionRequest *)req;

	ProtobufCBinaryData *files = calloc(r->nfiles, sizeof *files);
	bool *seen = calloc(r->nfiles, sizeof *seen);
	Grpc__Reflection__V1__ServiceResponse *svcs = calloc(r->nservices + 1, sizeof *svcs);
	Grpc__Reflection__V1__ServiceResponse **svcp = calloc(r->nservices + 1, sizeof *svcp);
	if (!files || !seen || !svcs || !svcp) {
		rpc_call_finish(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}

	switch (req->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		file = find_file(r, req->file_by_filename);
		if (file < 0)
			snprintf(msg, sizeof msg, "file not found: %s", req->file_by_filename);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		file = find_symbol(r, req->file_containing_symbol);
		if (file < 0)
			snprintf(msg, sizeof msg, "symbol not found: %s",
				 req->file_containing_symbol);
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
		snprintf(msg, sizeof msg, "extension %d of %s not found",
			 req->file_containing_extension ? req->file_containing_extension->extension_number : 0,
			 req->file_containing_extension && req->file_containing_extension->containing_type
				 ? req->file_containing_extension->containing_type : "?");
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		if (find_symbol(r, req->all_extension_numbers_of_type) >= 0) {
			/* None of the served types has extensions. */
			enr.base_type_name = req->all_extension_numbers_of_type;
			resp.message_response_case =
				GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
			resp.all_extension_numbers_response = &enr;
		} else {
			snprintf(msg, sizeof msg, "type not found: %s",
				 req->all_extension_numbers_of_type);
		}
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		for (size_t i = 0; i < r->nservices; i++) {
			grpc__reflection__v1__service_response__init(&svcs[i]);
			svcs[i].name = r->services[i];
			svcp[i] = &svcs[i];
		}
		lsr.n_service = r->nservices;
		lsr.service = svcp;
		resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
		resp.list_services_response = &lsr;
		break;
	default:
		snprintf(msg, sizeof msg, "empty or unknown reflection request");
		er.error_code = GRPC_STATUS_INVALID_ARGUMENT;
		break;
	}

	if (file >= 0) {
		size_t n = 0;
		collect(r, (size_t)file, seen, files, &n);
		fdr.n_file_descriptor_proto = n;
		fdr.file_descriptor_proto = files;
		resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
		resp.file_descriptor_response = &fdr;
	} else if (resp.message_response_case ==
		   GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE__NOT_SET) {
		/* Errors travel inside the stream, which stays open. */
		if (!er.error_code)
			er.error_code = GRPC_STATUS_NOT_FOUND;
		er.error_message = msg;
		resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
		resp.error_response = &er;
	}
	rpc_call_send(call, &resp.base);
out:
	free(files);
	free(seen);
	free(svcs);
	free(svcp);
}

static void on_start(rpc_call *call, const ProtobufCMessage *req, void *ud)
{
}

static void on_message(rpc_call *call, const ProtobufCMessage *msg, void *ud)
{
	answer(call, ud, (const Grpc__Reflection__V1__ServerReflectionRequest *)msg);
}

int reflection_register(struct reflection *r, rpc_server *s)
{
	static const char *const paths[] = {
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	};
	for (size_t i = 0; i < 2; i++) {
		rpc_method m = {
			.path = paths[i],
			.kind = RPC_BIDI,
			.request = &grpc__reflection__v1__server_reflection_request__descriptor,
			.on_start = on_start,
			.on_message = on_message,
			.ud = r,
		};
		int e = rpc_server_add_method(s, &m);
		if (e < 0)
			return e;
	}
	return 0;
}
