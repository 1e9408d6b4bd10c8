# Run by `cmake --install` (install(SCRIPT) in CMakeLists.txt, after the variables ISAPI_* it
# uses were set): generates isapi.pc and the installed isapi-cc for the prefix being installed
# to, which `--prefix` may have changed since configuration. Relative install directories are
# written ${prefix}-relative in isapi.pc (pkg-config's convention) and absolute in isapi-cc.
foreach(kind INCLUDEDIR LIBDIR)
  set(dir "${ISAPI_INSTALL_${kind}}")
  if(IS_ABSOLUTE "${dir}")
    set(ISAPI_PC_${kind} "${dir}")
    set(ISAPI_CC_${kind} "${dir}")
  else()
    set(ISAPI_PC_${kind} "\${prefix}/${dir}")
    set(ISAPI_CC_${kind} "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
endforeach()
set(ISAPI_CC_INCLUDEDIR "${ISAPI_CC_INCLUDEDIR}/isapi")
configure_file("${ISAPI_SOURCE_DIR}/isapi.pc.in" "${ISAPI_BINARY_DIR}/pkgconfig/isapi.pc" @ONLY)
configure_file("${ISAPI_SOURCE_DIR}/tools/isapi-cc.in" "${ISAPI_BINARY_DIR}/install/isapi-cc" @ONLY)
