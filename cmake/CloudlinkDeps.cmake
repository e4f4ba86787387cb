# Every third-party dependency, found once, as imported targets.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
find_package(OpenSSL REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
# simdjson (request bodies) ships a CMake config; nlohmann-json (responses) is header-only.
find_package(simdjson CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
# cpp-httplib (control's REST API): Debian builds it as a shared library (libcpp-httplib.so,
# the header holds declarations only) and ships no CMake config, only cpp-httplib.pc, whose
# Cflags carry the CPPHTTPLIB_*_SUPPORT defines the library was built with; the header must
# see the same defines, so take them from pkg-config rather than spelling them here.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# libsodium: Argon2id password hashes (crypto_pwhash_str), random tokens, BLAKE2b token digests.
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# libpsl: the Public Suffix List (data from Debian's publicsuffix) for control's hostname policy.
pkg_check_modules(PSL REQUIRED IMPORTED_TARGET libpsl)
# libsystemd: sd_notify (READY, RELOADING, MAINPID, WATCHDOG) for the systemd units.
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
# libarchive: control's backup archives (tar reader and writer).
pkg_check_modules(LIBARCHIVE REQUIRED IMPORTED_TARGET libarchive)
# yaml-cpp: cloudlink-home's cloudlink.yaml (Debian's 0.7 exports the target `yaml-cpp`).
find_package(yaml-cpp CONFIG REQUIRED)
# libssh: cloudlink-home's SSH client (reverse forwards).
pkg_check_modules(LIBSSH REQUIRED IMPORTED_TARGET libssh)
find_package(GTest CONFIG REQUIRED)
if(CLOUDLINK_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()
