#include "common/tls/openssl_error.h"

#include <openssl/err.h>

namespace cloudlink {

std::string openssl_error_text(std::string_view when_empty) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(when_empty);
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace cloudlink
