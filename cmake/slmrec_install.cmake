# install() + export() so that consumers can find_package(slmrec) from an
# install tree or straight from this build tree.
include(CMakePackageConfigHelpers)
install(DIRECTORY include/slmrec DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS slmrec EXPORT slmrecTargets)
install(EXPORT slmrecTargets NAMESPACE slmrec:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/slmrec)
export(EXPORT slmrecTargets NAMESPACE slmrec:: FILE ${CMAKE_CURRENT_BINARY_DIR}/slmrecTargets.cmake)
configure_package_config_file(cmake/slmrecConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/slmrecConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/slmrec)
# Header-only: the version check must not compare the consumer's pointer size.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/slmrecConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/slmrecConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/slmrecConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/slmrec)
