// A module's own executor for long jobs that must never hold the shared request pool: one thread,
// jobs in the order given. The thread starts on the first job and lives as long as the process
// (it is never joined: it may still be waiting for work while the program exits).
#pragma once

#include <string>

#include "server/registry.h"

namespace server {

Executor serial_executor(std::string name);

}  // namespace server
