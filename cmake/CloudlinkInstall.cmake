# Where `cmake --install` puts cloudlink, in two components, one per Debian package
# (deploy/package.sh, deploy/debian):
#   vps   (package cloudlink):      cloudlink-dataplane, cloudlink-control, their units, the sshd
#                                   drop-in, /etc/cloudlink/*.conf, Prometheus and Grafana files
#   home  (package cloudlink-home): cloudlink-home and its unit
# Binaries and data go under the install prefix (/usr for the packages), given at install time
# (`cmake --install BUILD --component vps --prefix /usr`) so one build serves any prefix. What
# the programs or other programs look for at a fixed place is installed there whatever the prefix:
# settings in /etc/cloudlink (the programs' defaults), the sshd drop-in in /etc/ssh/sshd_config.d,
# units in /lib/systemd/system (Debian 12's systemdsystemunitdir). The units and the drop-in
# name the binaries by their installed path, rewritten for the prefix at install time.
include(GNUInstallDirs)

set(CLOUDLINK_SYSTEMD_UNIT_DIR "/lib/systemd/system" CACHE PATH
    "where cmake --install puts the systemd units")
set(CLOUDLINK_SETTINGS_DIR "/etc/cloudlink" CACHE PATH
    "where cmake --install puts the default settings files")
set(CLOUDLINK_SSHD_DROP_IN_DIR "/etc/ssh/sshd_config.d" CACHE PATH
    "where cmake --install puts the sshd drop-in")

install(TARGETS cloudlink-dataplane cloudlink-control RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT vps)
install(TARGETS cloudlink-home RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT home)

# cloudlink_install_for_prefix(SOURCE file DESTINATION dir [RENAME name] COMPONENT c)
#   Installs a text file that names a binary as /usr/bin/X or /usr/local/bin/X with that path
#   replaced, at install time, by PREFIX/BINDIR/X.
function(cloudlink_install_for_prefix)
  cmake_parse_arguments(F "" "SOURCE;DESTINATION;RENAME;COMPONENT" "" ${ARGN})
  get_filename_component(name ${F_SOURCE} NAME)
  if(F_RENAME)
    set(name ${F_RENAME})
  endif()
  set(staged ${PROJECT_BINARY_DIR}/install-staging/${F_COMPONENT}/${name})
  install(CODE "
    file(READ \"${F_SOURCE}\" text)
    string(REGEX REPLACE \"/usr(/local)?/bin/cloudlink-\"
           \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/cloudlink-\" text \"\${text}\")
    file(WRITE \"${staged}\" \"\${text}\")
    file(INSTALL DESTINATION \"${F_DESTINATION}\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ FILES \"${staged}\")
  " COMPONENT ${F_COMPONENT})
endfunction()

foreach(unit cloudlink-dataplane.service cloudlink-control.service cloudlink-reaper.service)
  cloudlink_install_for_prefix(SOURCE ${PROJECT_SOURCE_DIR}/deploy/systemd/${unit}
                               DESTINATION ${CLOUDLINK_SYSTEMD_UNIT_DIR} COMPONENT vps)
endforeach()
cloudlink_install_for_prefix(SOURCE ${PROJECT_SOURCE_DIR}/deploy/systemd/cloudlink-home.service
                             DESTINATION ${CLOUDLINK_SYSTEMD_UNIT_DIR} COMPONENT home)
cloudlink_install_for_prefix(SOURCE ${PROJECT_SOURCE_DIR}/deploy/sshd/cloudlink.conf
                             DESTINATION ${CLOUDLINK_SSHD_DROP_IN_DIR} COMPONENT vps)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/etc/cloudlink/dataplane.conf
              ${PROJECT_SOURCE_DIR}/deploy/etc/cloudlink/control.conf
        DESTINATION ${CLOUDLINK_SETTINGS_DIR} COMPONENT vps)

# Reference files an operator copies or links: Prometheus scrape config and rules, Grafana
# dashboards, the sockmap drop-in for the dataplane's unit.
set(share ${CMAKE_INSTALL_DATADIR}/cloudlink)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/prometheus/ DESTINATION ${share}/prometheus
        COMPONENT vps)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/grafana/ DESTINATION ${share}/grafana
        COMPONENT vps)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/cloudlink-sessions.tmpfiles.conf
        DESTINATION lib/tmpfiles.d RENAME cloudlink-sessions.conf COMPONENT vps)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/dataplane-sockmap.conf
        DESTINATION ${share}/systemd COMPONENT vps)
