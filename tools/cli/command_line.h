// Command-line flags for the tools: each flag is bound to a typed variable, parsed with clear
// errors (unknown flag, missing or malformed value, value not among the choices) and listed by
// --help with its default. Presets and resumed runs fill in the flags the user did not give.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/formats/json_value.h"

namespace busi::tools {

// A mistake on the command line; the tools print it with a hint to --help and exit with 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Usage:
//   CommandLine cli("train_simple", "Trains SimpleCNN from scratch on BUSI.");
//   int epochs = 25;
//   cli.add("--epochs", &epochs, "N", "training epochs");
//   cli.add_choice("--optimizer", &optimizer, {"sgd", "adamw"}, "optimiser");
//   if (!cli.parse(argc, argv)) return 0;  // --help was printed
class CommandLine {
 public:
  CommandLine(std::string program, std::string description);

  // Flags taking a value, stored into *target (whose current value is the default shown by
  // --help). `value_name` is the placeholder in the help text ("N", "DIR").
  void add(const std::string& flag, std::string* target, const std::string& value_name,
           const std::string& help);
  void add(const std::string& flag, int* target, const std::string& value_name,
           const std::string& help);
  void add(const std::string& flag, int64_t* target, const std::string& value_name,
           const std::string& help);
  void add(const std::string& flag, float* target, const std::string& value_name,
           const std::string& help);
  // A string restricted to `choices`.
  void add_choice(const std::string& flag, std::string* target,
                  const std::vector<std::string>& choices, const std::string& help);
  // "on" or "off" (also accepted: true/false, yes/no, 1/0).
  void add_on_off(const std::string& flag, bool* target, const std::string& help);
  // A flag that may be given several times, each value appended ("--external A --external B").
  void add_repeated(const std::string& flag, std::vector<std::string>* target,
                    const std::string& value_name, const std::string& help);
  // A switch without a value: present = true.
  void add_switch(const std::string& flag, bool* target, const std::string& help);
  // Arguments that are not flags (image files, folders); without this call they are errors.
  void allow_positionals(std::vector<std::string>* target, const std::string& value_name,
                         const std::string& help);
  // Extra text printed at the end of --help (presets, examples).
  void set_epilog(const std::string& text) { epilog_ = text; }
  // Shown instead of the value in the help's "(default: ...)" for a flag whose default is
  // decided at run time ("from the preset").
  void set_default_text(const std::string& flag, const std::string& text);

  // Parses argv. Returns false when --help / -h was given (the help has been printed to stdout);
  // throws UsageError for anything it cannot accept. "--flag=value" and "--flag value" both work.
  bool parse(int argc, const char* const* argv);

  // True when the flag was given on the command line (not a preset or default value).
  bool given(const std::string& flag) const;
  // Sets a flag's value from text unless it was given on the command line or already set by an
  // earlier call: sources are applied from the strongest down (command line, values derived from
  // it, a resumed checkpoint's settings, the preset). Returns true when it set the value.
  bool set_if_not_given(const std::string& flag, const std::string& value);
  bool has_flag(const std::string& flag) const { return find(flag) != nullptr; }
  // A flag's current value as text (as --help and checkpoints show it).
  std::string text_of(const std::string& flag) const;

  // Every flag's current value, typed, keyed by the flag name without dashes, '-' -> '_'
  // ("--img-size" -> "img_size"): the settings part of config.json.
  Json settings_json() const;
  // Every flag's current value as text, keyed by the flag itself ("--img-size" -> "128"): what a
  // checkpoint stores so that --resume can restore the settings.
  std::vector<std::pair<std::string, std::string>> settings_text() const;

  std::string help_text() const;
  const std::string& program() const { return program_; }

 private:
  struct Option {
    std::string flag, value_name, help, default_text;
    bool takes_value = true;
    bool given = false;    // on the command line
    bool settled = false;  // given, or set by set_if_not_given: weaker sources leave it alone
    std::function<void(const std::string&)> set;  // parses text into the target or throws
    std::function<std::string()> text;            // the current value as text
    std::function<Json()> json;                   // the current value as JSON
  };
  Option& add_option(const std::string& flag, const std::string& value_name,
                     const std::string& help);
  Option* find(const std::string& flag);
  const Option* find(const std::string& flag) const;
  void assign(Option& option, const std::string& value);

  std::string program_, description_, epilog_;
  std::vector<Option> options_;
  std::vector<std::string>* positionals_ = nullptr;
  std::string positional_name_, positional_help_;
};

// Name of a flag as a settings key: "--img-size" -> "img_size".
std::string flag_key(const std::string& flag);

}  // namespace busi::tools
