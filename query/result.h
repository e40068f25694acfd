// Result<T>: a value or a one-line error message; Status = Result<void>. How recoverable failures
// are returned across query/, indexer/ and server/ (query/ is the lowest layer, so all may include it).
//
// Why not std::expected: it is C++23, and GCC 12 (Debian 12's compiler) does not have it. This is
// the small part we use. Invariant: exactly one of value and error is held; value() on an error
// (or error() on a value) is a bug and asserts. An error's message is never empty.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace query {

// The error half, so `return Error{"why"};` converts to any Result.
struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) { assert(!error().empty() && "an error says why"); }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return assert(ok() && "value() of an error"), std::get<0>(v_); }
  const T& value() const& { return assert(ok() && "value() of an error"), std::get<0>(v_); }
  T&& value() && { return assert(ok() && "value() of an error"), std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const std::string& error() const { return assert(!ok() && "error() of a value"), std::get<1>(v_).message; }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;  // success
  Result(Error e) : error_(std::move(e.message)) { assert(!error_.empty() && "an error says why"); }

  bool ok() const { return error_.empty(); }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return assert(!ok() && "error() of a success"), error_; }

 private:
  std::string error_;  // empty: success
};

using Status = Result<void>;

}  // namespace query
