// Names the calling thread, so that `top -H`, `perf` and gdb tell webhookd's threads apart.
#pragma once

namespace webhookd {

// `name` is cut to the 15 characters Linux keeps. Never call it on the main thread: its name
// is the process name that ps and top show.
void NameThisThread(const char* name);

}  // namespace webhookd
