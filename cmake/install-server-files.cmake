# Run by `cmake --install` (install(SCRIPT) in CMakeLists.txt, after the ISAPID_* variables it
# uses were set): writes the systemd unit and the example configuration for the prefix being
# installed to, which `--prefix` may have changed since configuration. The configuration is
# examples/isapid.ini with its two repository paths (root and the examples' directory) pointed
# at the installed www/ and examples; a change to those two lines there fails the install
# loudly rather than installing a file that points nowhere.
foreach(kind BINDIR SYSCONFDIR DATADIR LIBDIR)
  set(dir "${ISAPID_INSTALL_${kind}}")
  if(IS_ABSOLUTE "${dir}")
    set(ISAPID_${kind} "${dir}")
  else()
    set(ISAPID_${kind} "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
endforeach()
set(ISAPID_INSTALL_BIN "${ISAPID_BINDIR}/isapid")
set(ISAPID_INSTALL_CONFIG "${ISAPID_SYSCONFDIR}/isapid/isapid.ini")
configure_file("${ISAPID_SOURCE_DIR}/systemd/isapid.service.in"
               "${ISAPID_BINARY_DIR}/install/isapid.service" @ONLY)

file(READ "${ISAPID_SOURCE_DIR}/examples/isapid.ini" ini)
foreach(pair "root = ../www|root = ${ISAPID_DATADIR}/isapid/www"
             "/examples = ../build/examples|/examples = ${ISAPID_LIBDIR}/isapid/examples")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  string(FIND "${ini}" "\n${from}\n" at)
  if(at LESS 0)
    message(FATAL_ERROR "examples/isapid.ini has no line '${from}' to point at the installed files")
  endif()
  string(REPLACE "\n${from}\n" "\n${to}\n" ini "${ini}")
endforeach()
file(WRITE "${ISAPID_BINARY_DIR}/install/isapid.ini"
     "; Installed by make install from the repository's examples/isapid.ini.\n${ini}")
