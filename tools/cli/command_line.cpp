// Command-line parsing for the tools (see command_line.h): typed flags, strict value checks,
// --help.
#include "tools/cli/command_line.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iostream>
#include <sstream>

namespace busi::tools {

namespace {

// Whole-string integer parse: "12" is fine, "12x", "" and "1.5" are not.
template <typename Int>
Int parse_integer(const std::string& flag, const std::string& text) {
  Int value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end)
    throw UsageError(flag + ": expected a whole number, got '" + text + "'");
  return value;
}

float parse_float(const std::string& flag, const std::string& text) {
  float value = 0.0f;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value))
    throw UsageError(flag + ": expected a number, got '" + text + "'");
  return value;
}

bool parse_on_off(const std::string& flag, const std::string& text) {
  if (text == "on" || text == "true" || text == "yes" || text == "1") return true;
  if (text == "off" || text == "false" || text == "no" || text == "0") return false;
  throw UsageError(flag + ": expected on or off, got '" + text + "'");
}

// The shortest text that reads back as the same float (0.1f -> "0.1").
std::string float_text(float value) {
  char buffer[32];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, ptr) : std::to_string(value);
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

}  // namespace

std::string flag_key(const std::string& flag) {
  std::string key = flag.substr(flag.find_first_not_of('-'));
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

CommandLine::CommandLine(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

CommandLine::Option& CommandLine::add_option(const std::string& flag, const std::string& value_name,
                                             const std::string& help) {
  if (find(flag) != nullptr) throw std::logic_error("flag " + flag + " defined twice");
  Option option;
  option.flag = flag;
  option.value_name = value_name;
  option.help = help;
  options_.push_back(std::move(option));
  return options_.back();
}

void CommandLine::add(const std::string& flag, std::string* target, const std::string& value_name,
                      const std::string& help) {
  Option& o = add_option(flag, value_name, help);
  o.set = [target](const std::string& v) { *target = v; };
  o.text = [target] { return *target; };
  o.json = [target] { return Json(*target); };
}

void CommandLine::add_repeated(const std::string& flag, std::vector<std::string>* target,
                               const std::string& value_name, const std::string& help) {
  Option& o = add_option(flag, value_name, help);
  o.set = [target](const std::string& v) { target->push_back(v); };
  o.text = [target] {
    std::string all;
    for (const std::string& v : *target) all += (all.empty() ? "" : ",") + v;
    return all;
  };
  o.json = [target] { return Json(*target); };
}

void CommandLine::add(const std::string& flag, int* target, const std::string& value_name,
                      const std::string& help) {
  Option& o = add_option(flag, value_name, help);
  o.set = [target, flag](const std::string& v) { *target = parse_integer<int>(flag, v); };
  o.text = [target] { return std::to_string(*target); };
  o.json = [target] { return Json(*target); };
}

void CommandLine::add(const std::string& flag, int64_t* target, const std::string& value_name,
                      const std::string& help) {
  Option& o = add_option(flag, value_name, help);
  o.set = [target, flag](const std::string& v) { *target = parse_integer<int64_t>(flag, v); };
  o.text = [target] { return std::to_string(*target); };
  o.json = [target] { return Json(*target); };
}

void CommandLine::add(const std::string& flag, float* target, const std::string& value_name,
                      const std::string& help) {
  Option& o = add_option(flag, value_name, help);
  o.set = [target, flag](const std::string& v) { *target = parse_float(flag, v); };
  o.text = [target] { return float_text(*target); };
  o.json = [target] { return Json(*target); };
}

void CommandLine::add_choice(const std::string& flag, std::string* target,
                             const std::vector<std::string>& choices, const std::string& help) {
  Option& o = add_option(flag, join(choices, "|"), help);
  o.set = [target, flag, choices](const std::string& v) {
    if (std::find(choices.begin(), choices.end(), v) == choices.end())
      throw UsageError(flag + ": expected one of " + join(choices, ", ") + ", got '" + v + "'");
    *target = v;
  };
  o.text = [target] { return *target; };
  o.json = [target] { return Json(*target); };
}

void CommandLine::add_on_off(const std::string& flag, bool* target, const std::string& help) {
  Option& o = add_option(flag, "on|off", help);
  o.set = [target, flag](const std::string& v) { *target = parse_on_off(flag, v); };
  o.text = [target] { return std::string(*target ? "on" : "off"); };
  o.json = [target] { return Json(*target); };
}

void CommandLine::add_switch(const std::string& flag, bool* target, const std::string& help) {
  Option& o = add_option(flag, "", help);
  o.takes_value = false;
  // A switch's stored text is "on"/"off", so presets and checkpoints can set it like any flag.
  o.set = [target, flag](const std::string& v) { *target = parse_on_off(flag, v); };
  o.text = [target] { return std::string(*target ? "on" : "off"); };
  o.json = [target] { return Json(*target); };
}

void CommandLine::allow_positionals(std::vector<std::string>* target, const std::string& value_name,
                                    const std::string& help) {
  positionals_ = target;
  positional_name_ = value_name;
  positional_help_ = help;
}

void CommandLine::set_default_text(const std::string& flag, const std::string& text) {
  Option* o = find(flag);
  if (o == nullptr) throw std::logic_error("set_default_text: no flag " + flag);
  o->default_text = text;
}

CommandLine::Option* CommandLine::find(const std::string& flag) {
  for (Option& o : options_)
    if (o.flag == flag) return &o;
  return nullptr;
}

const CommandLine::Option* CommandLine::find(const std::string& flag) const {
  for (const Option& o : options_)
    if (o.flag == flag) return &o;
  return nullptr;
}

void CommandLine::assign(Option& option, const std::string& value) {
  option.set(value);
  option.given = option.settled = true;
}

bool CommandLine::parse(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << help_text();
      return false;
    }
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      if (positionals_ == nullptr)
        throw UsageError("unexpected argument '" + arg + "' (flags start with --; see --help)");
      positionals_->push_back(arg);
      continue;
    }
    // "--flag=value" or "--flag value"
    std::string value;
    bool inline_value = false;
    if (const size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    Option* option = find(arg);
    if (option == nullptr) throw UsageError("unknown flag '" + arg + "' (see --help)");
    if (!option->takes_value) {
      assign(*option, inline_value ? value : "on");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) throw UsageError(arg + ": missing value (" + option->value_name + ")");
      value = argv[++i];
    }
    assign(*option, value);
  }
  return true;
}

bool CommandLine::given(const std::string& flag) const {
  const Option* o = find(flag);
  if (o == nullptr) throw std::logic_error("given: no flag " + flag);
  return o->given;
}

bool CommandLine::set_if_not_given(const std::string& flag, const std::string& value) {
  Option* o = find(flag);
  if (o == nullptr) throw std::logic_error("set_if_not_given: no flag " + flag);
  if (o->settled) return false;
  o->set(value);
  o->settled = true;
  return true;
}

std::string CommandLine::text_of(const std::string& flag) const {
  const Option* o = find(flag);
  if (o == nullptr) throw std::logic_error("text_of: no flag " + flag);
  return o->text();
}

Json CommandLine::settings_json() const {
  Json settings = Json::object();
  for (const Option& o : options_) settings[flag_key(o.flag)] = o.json();
  return settings;
}

std::vector<std::pair<std::string, std::string>> CommandLine::settings_text() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Option& o : options_) out.emplace_back(o.flag, o.text());
  return out;
}

std::string CommandLine::help_text() const {
  std::ostringstream out;
  out << "usage: " << program_ << " [flags]";
  if (positionals_ != nullptr) out << " " << positional_name_ << " ...";
  out << "\n\n" << description_ << "\n\nflags:\n";
  for (const Option& o : options_) {
    std::string head = "  " + o.flag + (o.takes_value ? " " + o.value_name : "");
    if (head.size() < 28)
      head.resize(28, ' ');
    else
      head += "\n" + std::string(28, ' ');
    const std::string shown = !o.default_text.empty() ? o.default_text : o.text();
    out << head << o.help;
    if (o.takes_value && !shown.empty()) out << " (default: " << shown << ")";
    out << "\n";
  }
  out << "  --help                    this text\n";
  if (positionals_ != nullptr)
    out << "\n  " << positional_name_ << ": " << positional_help_ << "\n";
  if (!epilog_.empty()) out << "\n" << epilog_;
  return out.str();
}

}  // namespace busi::tools
