#pragma once
/// Thread set-up shared by the inlet, the outlet workers and the writer.
#include <pthread.h>

namespace akvo {

/// Names the calling thread, for top -H and perf --sort comm (15 characters at most).
/// (Running the outlet threads a few nice levels below the inlet was tried: at 2 M NetFlow v9
/// flows/s on 2 cores it moved the loss from the kernel to the queues, no less of it.)
inline void setupThread(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace akvo
