#include "indexer/query_syntax.h"

#include <cctype>

namespace indexer::detail {

bool QueryReader::at_end() {
  skip_space();
  return i_ >= s_.size();
}

Elem QueryReader::element() {
  // Bounded, so a query file cannot exhaust the stack here or in Elem's destructor.
  if (depth_ >= kMaxDepth) {
    fail();
    i_ = s_.size();
    return {};
  }
  ++depth_;
  struct Leave {
    size_t& depth;
    ~Leave() { --depth; }
  } leave{depth_};
  skip_space();
  Elem e;
  if (i_ >= s_.size()) return e;
  char c = s_[i_];
  if (c == '.') {
    ++i_;
    e.type = Elem::Anchor;
    return e;
  }
  if (c == '!') {
    ++i_;
    e.type = Elem::Negated;
    e.name = identifier();
    return e;
  }
  if (c == '"') {
    e.type = Elem::Anonymous;
    e.name = string_literal();
  } else if (c == '[') {
    ++i_;
    e.type = Elem::Alternation;
    members(']', e.children);
  } else if (c == '(') {
    ++i_;
    skip_space();
    char d = i_ < s_.size() ? s_[i_] : ')';
    if (d == '#') {
      e.type = Elem::Predicate;
      predicate(e);
      return e;
    }
    if (d == '(' || d == '[' || d == '"' || d == '.') {
      e.type = Elem::Group;
    } else {
      std::string id = identifier();
      if (id == "_") e.type = Elem::Wildcard;
      else if (id.empty() || id == "ERROR" || id == "MISSING" || id.find('/') != std::string::npos) e.type = Elem::Unknown;
      else e.type = Elem::Named, e.name = std::move(id);
    }
    members(')', e.children);
  } else {
    std::string id = identifier();
    skip_space();
    if (!id.empty() && i_ < s_.size() && s_[i_] == ':') {  // a field: its element follows
      ++i_;
      Elem inner = element();
      inner.field = std::move(id);
      return inner;
    }
    e.type = id == "_" ? Elem::Any : Elem::Unknown;
    if (id.empty()) {
      fail();
      ++i_;
    }
  }
  suffixes(e);
  return e;
}

void QueryReader::members(char close, std::vector<Elem>& out) {
  for (;;) {
    skip_space();
    if (i_ >= s_.size()) {
      fail();  // not closed
      return;
    }
    if (s_[i_] == close) {
      ++i_;
      return;
    }
    out.push_back(element());
  }
}

void QueryReader::suffixes(Elem& e) {
  for (;;) {
    skip_space();
    if (i_ >= s_.size()) return;
    char c = s_[i_];
    if (c == '?' || c == '*' || c == '+') {
      e.quantified = true;
      e.optional = e.optional || c != '+';
      e.repeated = e.repeated || c != '?';
      ++i_;
    } else if (c == '@') {
      ++i_;
      e.captures.push_back(identifier());
    } else {
      return;
    }
  }
}

std::string QueryReader::identifier() {
  // tree-sitter's identifier characters: letters and digits (any non-ASCII byte here), _ - . ? !
  // (so `@name?` is the capture "name?"), and / for supertype paths.
  size_t a = i_;
  while (i_ < s_.size()) {
    const unsigned char c = static_cast<unsigned char>(s_[i_]);
    if (!(std::isalnum(c) || c >= 0x80 || c == '_' || c == '-' || c == '.' || c == '?' || c == '!' || c == '/')) break;
    ++i_;
  }
  return std::string(s_.substr(a, i_ - a));
}

std::string QueryReader::string_literal() {
  std::string out;
  ++i_;
  while (i_ < s_.size() && s_[i_] != '"') {
    if (s_[i_] == '\n') fail();  // tree-sitter's strings end on their line
    char c = s_[i_++];
    if (c == '\\' && i_ < s_.size()) {
      char n = s_[i_++];
      c = n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n == '0' ? '\0' : n;
    }
    out.push_back(c);
  }
  if (i_ >= s_.size()) fail();  // not closed
  ++i_;
  return out;
}

void QueryReader::predicate(Elem& e) {  // after "(", at "#": (#name? arg ...)
  ++i_;
  e.name = identifier();  // eq?, set!
  for (;;) {
    skip_space();
    if (i_ >= s_.size()) {
      fail();
      return;
    }
    char c = s_[i_];
    if (c == ')') {
      ++i_;
      return;
    }
    if (c == '@') {
      ++i_;
      e.args.push_back({true, identifier()});
    } else if (c == '"') {
      e.args.push_back({false, string_literal()});
    } else {
      std::string word = identifier();
      if (word.empty()) {
        fail();
        ++i_;
        continue;
      }
      e.args.push_back({false, std::move(word)});
    }
  }
}

void QueryReader::skip_space() {
  while (i_ < s_.size()) {
    if (std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    else if (s_[i_] == ';')
      while (i_ < s_.size() && s_[i_] != '\n') ++i_;
    else return;
  }
}

namespace {

// Numbers captures by first use in text order, as tree-sitter does: a node's own captures follow
// its children in the text. A predicate's captures must be known by then.
void number_captures(const Elem& e, ParsedQuery& q) {
  for (const Elem& c : e.children) number_captures(c, q);
  for (const std::string& name : e.captures)
    if (capture_id(q, name) < 0) q.captures.push_back(name);
}

}  // namespace

int capture_id(const ParsedQuery& q, std::string_view name) {
  for (size_t i = 0; i < q.captures.size(); ++i)
    if (q.captures[i] == name) return int(i);
  return -1;
}

ParsedQuery read_query(std::string_view source) {
  ParsedQuery q;
  QueryReader reader(source);
  while (!reader.at_end()) {
    const size_t start = reader.offset();
    Elem top = reader.element();
    if (reader.error() != std::string_view::npos) {
      q.error = reader.error();
      return q;
    }
    number_captures(top, q);
    q.patterns.push_back({source.substr(start, reader.offset() - start), std::move(top)});
  }
  return q;
}

}  // namespace indexer::detail
