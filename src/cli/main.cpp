#include "cli/commands.h"

int main(int argc, char** argv) {
    return sarsteer::cli::run(argc, argv);
}
