// tokenauth: the command-line client. See cli.h, or `tokenauth --help`.
#include "cli.h"

int main(int argc, char** argv) { return tokenauth::cli::Run(argc, argv); }
