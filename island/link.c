/* The island host's link to its enclave runtime (link.h): starting a child
 * runtime on a socketpair or reaching one on vsock or a Unix socket,
 * waiting for its Ready, sending it HostMessages, and stopping it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "link.h"
#include "transport.h"
#include "util/log.h"
#include "util/timeutil.h"

int enclave_send(struct island *is, Atoll__Enclave__V1__HostMessage *m)
{
	pthread_mutex_lock(&is->enclave_wmu);
	int r = is->enclave_fd >= 0 ? frame_write(is->enclave_fd, &m->base) : -EPIPE;
	pthread_mutex_unlock(&is->enclave_wmu);
	return r;
}

/* Start a child runtime on a socketpair: its end of the pair is fd 3. */
static int spawn_child(struct island *is, int *ret_fd, pid_t *ret_pid, char *err, size_t err_size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, err_size, "socketpair: %s", strerror(errno));
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		snprintf(err, err_size, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		/* The enclave gets fd 3; everything else closes on exec. */
		if (dup2(sv[1], 3) < 0)
			_exit(126);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		char *argv[] = { is->cfg->enclave.path, "--config", (char *)is->config_path,
				 "--fd", "3", NULL };
		execv(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	*ret_fd = sv[0];
	*ret_pid = pid;
	return 0;
}

/* Start (child) or reach (vsock, unix) the enclave runtime and wait for
 * its Ready, all within enclave.start_timeout. */
int start_enclave(struct island *is, char *err, size_t err_size)
{
	const struct island_config *c = is->cfg;
	char where[200];
	pid_t pid = 0;
	int fd = -1, e;
	if (c->enclave.transport == TRANSPORT_CHILD) {
		snprintf(where, sizeof where, "%s", c->enclave.path);
		e = spawn_child(is, &fd, &pid, err, err_size);
	} else {
		transport_describe(&c->enclave.addr, where, sizeof where);
		e = transport_connect(&c->enclave.addr, c->enclave.start_timeout_ms, &fd, err,
				      err_size);
	}
	if (e < 0)
		return e;
	int sv[2] = { fd, -1 };
	/* Wait for Ready, bounded by enclave.start_timeout. */
	struct timeval tv = { .tv_sec = is->cfg->enclave.start_timeout_ms / 1000,
			      .tv_usec = (is->cfg->enclave.start_timeout_ms % 1000) * 1000 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ProtobufCMessage *pm = NULL;
	int r = frame_read(sv[0], &atoll__enclave__v1__enclave_message__descriptor,
			   is->cfg->enclave.max_frame_bytes, &pm);
	struct timeval none = { 0, 0 };
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	Atoll__Enclave__V1__EnclaveMessage *em = (void *)pm;
	bool bad = r < 0 || em->msg_case != ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG_READY;
	if (bad)
		snprintf(err, err_size, "the enclave runtime at %s did not become ready: %s", where,
			 r == -EAGAIN ? "timed out" : r < 0 ? "it exited or sent garbage"
							   : "unexpected first message");
	/* Both ends enforce one limit, whatever the transport. */
	else if (em->ready->max_frame_bytes != c->enclave.max_frame_bytes)
		bad = snprintf(err, err_size,
			       "the enclave runtime at %s uses max_frame_bytes %u, this host %u: "
			       "set the same enclave.max_frame_bytes on both", where,
			       em->ready->max_frame_bytes, c->enclave.max_frame_bytes) >= 0;
	if (bad) {
		if (pm)
			protobuf_c_message_free_unpacked(pm, NULL);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		close(sv[0]);
		return -EPROTO;
	}
	pthread_mutex_lock(&is->mu);
	if (is->ready)
		protobuf_c_message_free_unpacked(&is->ready->base, NULL);
	/* Keep the Ready message: detach it from the envelope message. */
	is->ready = em->ready;
	em->ready = NULL;
	em->msg_case = ATOLL__ENCLAVE__V1__ENCLAVE_MESSAGE__MSG__NOT_SET;
	protobuf_c_message_free_unpacked(pm, NULL);
	is->enclave_pid = pid;
	is->enclave_fd = sv[0];
	is->enclave_alive = true;
	is->enclave_generation++;
	pthread_mutex_unlock(&is->mu);
	char pidtxt[32] = "";
	if (pid > 0)
		snprintf(pidtxt, sizeof pidtxt, ", pid %d", (int)pid);
	log_info("enclave ready (%s%s, tee %s%s%s)", where, pidtxt,
		 is->ready->tee_type[0] ? is->ready->tee_type : "none",
		 is->ready->tee_type[0] ? "" : ": ", is->ready->tee_type[0] ? "" : is->ready->tee_error);
	for (size_t i = 0; i < is->ready->n_workloads; i++) {
		Atoll__Enclave__V1__Workload *w = is->ready->workloads[i];
		if (!w->available)
			log_error("workload %u unavailable: %s", w->workload_id, w->error);
	}
	return 0;
}

void stop_enclave(struct island *is)
{
	pthread_mutex_lock(&is->enclave_wmu);
	if (is->enclave_fd >= 0) {
		shutdown(is->enclave_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&is->enclave_wmu);
	if (is->enclave_pid > 0) {
		for (int i = 0; i < 100; i++) {
			if (waitpid(is->enclave_pid, NULL, WNOHANG) == is->enclave_pid) {
				is->enclave_pid = 0;
				break;
			}
			time_sleep_ms(20);
		}
		if (is->enclave_pid > 0) {
			kill(is->enclave_pid, SIGKILL);
			waitpid(is->enclave_pid, NULL, 0);
			is->enclave_pid = 0;
		}
	}
}

/* Tell the enclave to stop one attempt. */
void enclave_cancel(struct island *is, char *job_id, uint32_t attempt)
{
	Atoll__Enclave__V1__CancelJob cj = ATOLL__ENCLAVE__V1__CANCEL_JOB__INIT;
	cj.job_id = job_id;
	cj.attempt = attempt;
	Atoll__Enclave__V1__HostMessage hm = ATOLL__ENCLAVE__V1__HOST_MESSAGE__INIT;
	hm.msg_case = ATOLL__ENCLAVE__V1__HOST_MESSAGE__MSG_CANCEL;
	hm.cancel = &cj;
	enclave_send(is, &hm);
}
