/* atoll.v1.Jobs: submit, read, list, watch and cancel jobs; usage. */
#include "atoll/v1/jobs.pb-c.h"
#include "coordinator.h"

int svc_jobs_register(struct coordinator *co)
{
	const rpc_method methods[] = {
		{ "/atoll.v1.Jobs/SubmitJob", RPC_UNARY, &atoll__v1__submit_job_request__descriptor,
		  svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/GetJob", RPC_UNARY, &atoll__v1__get_job_request__descriptor,
		  svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/ListJobs", RPC_UNARY, &atoll__v1__list_jobs_request__descriptor,
		  svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/WatchJob", RPC_SERVER_STREAM,
		  &atoll__v1__watch_job_request__descriptor, svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/CancelJob", RPC_UNARY, &atoll__v1__cancel_job_request__descriptor,
		  svc_unimplemented, NULL, NULL, NULL, co },
		{ "/atoll.v1.Jobs/GetUsage", RPC_UNARY, &atoll__v1__get_usage_request__descriptor,
		  svc_unimplemented, NULL, NULL, NULL, co },
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		int e = rpc_server_add_method(co->srv, &methods[i]);
		if (e < 0)
			return e;
	}
	return 0;
}
