// The command line of register, expose and unexpose, added to cloudlink-home's CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>

#include "home-agent/enroll/expose_command.h"
#include "home-agent/enroll/register_command.h"

namespace cloudlink::home {

class EnrollCli {
 public:
  // Adds the three subcommands to app (which must outlive this object).
  explicit EnrollCli(CLI::App& app);

  // After app.parse(): the exit status of the one of these commands that was given (its
  // output and errors printed), or nullopt when another command was. The config path is the
  // command's own --config, else global_config_flag (cloudlink-home --config), else
  // config_path()'s default.
  std::optional<int> run(const std::string& global_config_flag = {});

 private:
  void add_register(CLI::App& app);
  void add_expose(CLI::App& app);
  void add_unexpose(CLI::App& app);
  // Reads the password line from stdin when --password-stdin was given; false on failure.
  bool read_password(std::string& password, bool wanted);

  CLI::App* register_cmd_ = nullptr;
  CLI::App* expose_cmd_ = nullptr;
  CLI::App* unexpose_cmd_ = nullptr;
  RegisterOptions register_;
  ExposeOptions expose_;
  ApiAccess unexpose_;
  std::string unexpose_hostname_;
  std::string config_flag_;
  bool password_stdin_ = false;
};

}  // namespace cloudlink::home
