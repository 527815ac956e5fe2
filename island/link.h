/* The island host's link to its enclave runtime: starting a child runtime
 * on a socketpair or reaching one on vsock or a Unix socket, waiting for
 * its Ready, sending it HostMessages, and stopping it. Internal to
 * atoll-island (link.c). */
#ifndef ATOLL_ISLAND_LINK_H
#define ATOLL_ISLAND_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "atoll/enclave/v1/enclave.pb-c.h"
#include "island.h"

/* Write one frame to the enclave, under enclave_wmu. 0, or -EPIPE when
 * there is no enclave, or frame_write's error. */
int enclave_send(struct island *is, Atoll__Enclave__V1__HostMessage *m);
/* Start (child) or reach (vsock, unix) the enclave runtime and wait for its
 * Ready, all within enclave.start_timeout; keeps the Ready in is->ready.
 * 0, or negative errno with err saying why. */
int start_enclave(struct island *is, char *err, size_t err_size);
/* Shut the enclave link down and reap a child runtime (killed when it
 * does not exit within two seconds). The caller closes is->enclave_fd. */
void stop_enclave(struct island *is);
/* Tell the enclave to stop one attempt. */
void enclave_cancel(struct island *is, char *job_id, uint32_t attempt);

#endif
