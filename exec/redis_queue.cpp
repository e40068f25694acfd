#include "exec/redis_queue.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <initializer_list>
#include <mutex>

namespace exec {

using query::Status;  // exec.h's Status (a job's) is not seen here

namespace {

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{time_t(ms.count() / 1000), suseconds_t(ms.count() % 1000 * 1000)};
}

std::string_view text_of(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

// A stream entry as XREADGROUP and XAUTOCLAIM give it: [entry-id, [field, value, ...]].
struct Entry {
  std::string entry, id, payload;
};
std::optional<Entry> read_entry(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING) return std::nullopt;
  Entry e;
  e.entry = std::string(text_of(r->element[0]));
  const redisReply* fields = r->element[1];
  if (!fields || fields->type != REDIS_REPLY_ARRAY) return std::nullopt;  // deleted while pending
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    std::string_view name = text_of(fields->element[i]);
    if (name == "id") e.id = std::string(text_of(fields->element[i + 1]));
    else if (name == "payload") e.payload = std::string(text_of(fields->element[i + 1]));
  }
  if (e.id.empty()) return std::nullopt;
  return e;
}

// Submission in one step: an id is taken once, and the bound is checked with the add.
constexpr const char* kSubmit = R"(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
redis.call('SET', KEYS[1], 'queued')
redis.call('XADD', KEYS[2], '*', 'id', ARGV[1], 'payload', ARGV[2])
return 1)";

// A claim is renewed only by the worker holding it: after its lease ran out another may own it.
constexpr const char* kRenew = R"(
local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'JUSTID')
return 1)";

// The first result of an id is kept; the entry is done with either way.
constexpr const char* kFinish = R"(
local won = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2])
if won then redis.call('SET', KEYS[2], 'done', 'EX', ARGV[2]) end
redis.call('XACK', KEYS[3], 'workers', ARGV[3])
redis.call('XDEL', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[4])
if won then return 1 end
return 0)";

}  // namespace

Result<RedisAddress> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) return Error{"a Redis URL starts with redis:// (got '" + std::string(url.substr(0, 40)) + "')"};
  std::string_view rest = url.substr(scheme.size());
  RedisAddress a;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = rest.substr(0, at);
    size_t colon = user_info.find(':');
    a.password = std::string(colon == std::string_view::npos ? user_info : user_info.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  std::string_view host_port = rest.substr(0, rest.find('/'));
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), a.db);
      if (ec != std::errc() || end != db.data() + db.size() || a.db > 15) return Error{"the Redis database must be 0 to 15 (got '" + std::string(db.substr(0, 20)) + "')"};
    }
  }
  // [v6-address]:port, or host:port.
  std::string_view host = host_port, after_host;
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos) return Error{"the Redis URL's [address] is not closed"};
    host = host_port.substr(1, close - 1);
    after_host = host_port.substr(close + 1);
  } else if (size_t colon = host_port.rfind(':'); colon != std::string_view::npos) {
    host = host_port.substr(0, colon);
    after_host = host_port.substr(colon);
  }
  if (!after_host.empty()) {
    if (after_host.front() != ':') return Error{"the Redis URL has text after its host"};
    std::string_view port = after_host.substr(1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) return Error{"the Redis port must be 1 to 65535 (got '" + std::string(port.substr(0, 20)) + "')"};
    a.port = uint16_t(p);
  }
  if (host.empty()) return Error{"the Redis URL names no host"};
  a.host = std::string(host);
  return a;
}

struct RedisQueue::Connection {
  const Options& options;
  std::mutex mu;
  redisContext* context = nullptr;

  explicit Connection(const Options& o) : options(o) {}
  ~Connection() { drop(); }
  void drop() {
    if (context) redisFree(context);
    context = nullptr;
  }

  // Connects when there is no connection (the last one broke); the caller holds mu.
  Status connect() {
    if (context) return {};
    timeval tv = to_timeval(options.connect_timeout);
    context = redisConnectWithTimeout(options.address.host.c_str(), options.address.port, tv);
    if (!context || context->err) {
      std::string why = context ? context->errstr : "out of memory";
      drop();
      return Error{"cannot reach Redis at " + options.address.host + ":" + std::to_string(options.address.port) + ": " + why};
    }
    if (!options.address.password.empty()) {
      if (auto r = run({"AUTH", options.address.password}); !r) return Error{r.error()};
    }
    if (options.address.db != 0) {
      if (auto r = run({"SELECT", std::to_string(options.address.db)}); !r) return Error{r.error()};
    }
    return {};
  }

  // One command; the caller holds mu. An error reply is an error; a broken connection is dropped.
  Result<Reply> run(std::initializer_list<std::string_view> args, std::chrono::milliseconds wait = std::chrono::milliseconds(5'000)) {
    return run_range(args, wait);
  }
  template <class Args>
  Result<Reply> run_range(const Args& args, std::chrono::milliseconds wait = std::chrono::milliseconds(5'000)) {
    if (auto s = connect(); !s) return Error{s.error()};
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (std::string_view a : args) argv.push_back(a.data()), lengths.push_back(a.size());
    timeval tv = to_timeval(wait);
    redisSetTimeout(context, tv);
    Reply reply(static_cast<redisReply*>(redisCommandArgv(context, int(argv.size()), argv.data(), lengths.data())), freeReplyObject);
    if (!reply) {
      std::string why = context->errstr;
      drop();
      return Error{"Redis: " + why};
    }
    if (reply->type == REDIS_REPLY_ERROR) return Error{"Redis: " + std::string(text_of(reply.get()))};
    return reply;
  }

  Result<Reply> call(std::initializer_list<std::string_view> args) {
    std::lock_guard lock(mu);
    return run(args);
  }
};

RedisQueue::RedisQueue(Options options)
    : options_(std::move(options)), main_(std::make_unique<Connection>(options_)), reader_(std::make_unique<Connection>(options_)) {}
RedisQueue::~RedisQueue() = default;

Result<std::unique_ptr<RedisQueue>> RedisQueue::open(Options options) {
  if (options.consumer.empty()) return Error{"a Redis queue worker needs a consumer name"};
  if (options.lease.count() <= 0) return Error{"the lease must be positive"};
  std::unique_ptr<RedisQueue> q(new RedisQueue(std::move(options)));
  const std::string stream = q->options_.prefix + ":stream";
  // From the stream's start: jobs submitted before any worker made the group are read too.
  auto made = q->main_->call({"XGROUP", "CREATE", stream, "workers", "0", "MKSTREAM"});
  if (!made && made.error().find("BUSYGROUP") == std::string::npos) return Error{made.error()};
  return q;
}

Result<RedisQueue::Submitted> RedisQueue::submit(std::string_view id, std::string_view payload) {
  const std::string& p = options_.prefix;
  auto r = main_->call({"EVAL", kSubmit, "2", p + ":job:" + std::string(id), p + ":stream", id, payload, std::to_string(options_.max_queued)});
  if (!r) return Error{r.error()};
  switch ((*r)->integer) {
    case 0: return Submitted::Duplicate;
    case 2: return Submitted::Full;
    default: return Submitted::Queued;
  }
}

Result<std::vector<RedisQueue::Claimed>> RedisQueue::claim(size_t n, std::chrono::milliseconds block) {
  auto claimed = claim_once(n, block);
  // A Redis restarted without its data has lost the group (and every job): it is made again.
  if (!claimed && claimed.error().find("NOGROUP") != std::string::npos) {
    auto made = main_->call({"XGROUP", "CREATE", options_.prefix + ":stream", "workers", "0", "MKSTREAM"});
    if (!made && made.error().find("BUSYGROUP") == std::string::npos) return Error{made.error()};
    claimed = claim_once(n, block);
  }
  return claimed;
}

Result<std::vector<RedisQueue::Claimed>> RedisQueue::claim_once(size_t n, std::chrono::milliseconds block) {
  std::vector<Claimed> out;
  if (n == 0) return out;
  const std::string& p = options_.prefix;
  const std::string stream = p + ":stream";
  std::lock_guard lock(reader_->mu);
  auto take = [&](const Entry& e, bool reclaimed) -> Status {
    if (reclaimed) {
      // Its worker died after storing the result but before acknowledging it: done already.
      auto has = reader_->run({"EXISTS", p + ":result:" + e.id});
      if (!has) return Error{has.error()};
      if ((*has)->integer == 1) {
        auto ack = reader_->run({"XACK", stream, "workers", e.entry});
        if (!ack) return Error{ack.error()};
        auto del = reader_->run({"XDEL", stream, e.entry});
        return del ? Status{} : Status{Error{del.error()}};
      }
    }
    auto marked = reader_->run({"SET", p + ":job:" + e.id, "running " + options_.consumer});
    if (!marked) return Error{marked.error()};
    out.push_back(Claimed{e.id, e.payload, e.entry, reclaimed});
    return {};
  };

  // Leases that ran out: scanned from the start of the pending list, a bounded number of pages.
  std::string cursor = "0-0";
  for (int page = 0; page < 16 && out.size() < n; ++page) {
    auto r = reader_->run({"XAUTOCLAIM", stream, "workers", options_.consumer, std::to_string(options_.lease.count()), cursor,
                           "COUNT", std::to_string(n - out.size())});
    if (!r) return Error{r.error()};
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) return Error{"Redis: XAUTOCLAIM answered in a shape not known"};
    for (size_t i = 0; i < reply->element[1]->elements; ++i)
      if (auto e = read_entry(reply->element[1]->element[i])) {
        if (auto s = take(*e, true); !s) return Error{s.error()};
      }
    cursor = std::string(text_of(reply->element[0]));
    if (cursor == "0-0") break;
  }
  if (out.size() >= n) return out;

  // New jobs; a wait only when there is nothing to do yet.
  const bool wait = out.empty() && block.count() > 0;
  Result<Reply> r = wait ? reader_->run({"XREADGROUP", "GROUP", "workers", options_.consumer, "COUNT", std::to_string(n - out.size()), "BLOCK",
                                         std::to_string(block.count()), "STREAMS", stream, ">"},
                                        block + std::chrono::milliseconds(5'000))
                         : reader_->run({"XREADGROUP", "GROUP", "workers", options_.consumer, "COUNT", std::to_string(n - out.size()), "STREAMS",
                                         stream, ">"});
  if (!r) return Error{r.error()};
  const redisReply* reply = r->get();
  if (reply->type == REDIS_REPLY_NIL) return out;  // nothing within `block`
  if (reply->type != REDIS_REPLY_ARRAY) return Error{"Redis: XREADGROUP answered in a shape not known"};
  for (size_t s = 0; s < reply->elements; ++s) {
    const redisReply* one = reply->element[s];
    if (one->type != REDIS_REPLY_ARRAY || one->elements != 2 || one->element[1]->type != REDIS_REPLY_ARRAY) continue;
    for (size_t i = 0; i < one->element[1]->elements; ++i)
      if (auto e = read_entry(one->element[1]->element[i])) {
        if (auto st = take(*e, false); !st) return Error{st.error()};
      }
  }
  return out;
}

Result<bool> RedisQueue::renew(const Claimed& job) {
  auto r = main_->call({"EVAL", kRenew, "1", options_.prefix + ":stream", job.entry, options_.consumer});
  if (!r) return Error{r.error()};
  return (*r)->integer == 1;
}

Result<bool> RedisQueue::finish(const Claimed& job, std::string_view result) {
  const std::string& p = options_.prefix;
  auto r = main_->call({"EVAL", kFinish, "4", p + ":result:" + job.id, p + ":job:" + job.id, p + ":stream", p + ":cancel:" + job.id, result,
                        std::to_string(options_.retention.count()), job.entry});
  if (!r) return Error{r.error()};
  return (*r)->integer == 1;
}

namespace {
Result<std::optional<std::string>> string_or_nil(Result<Reply> r) {
  if (!r) return Error{r.error()};
  if ((*r)->type == REDIS_REPLY_NIL) return std::optional<std::string>();
  return std::optional<std::string>(std::string(text_of(r->get())));
}
}  // namespace

Result<std::optional<std::string>> RedisQueue::result(std::string_view id) {
  return string_or_nil(main_->call({"GET", options_.prefix + ":result:" + std::string(id)}));
}

Result<std::optional<std::string>> RedisQueue::state(std::string_view id) {
  return string_or_nil(main_->call({"GET", options_.prefix + ":job:" + std::string(id)}));
}

Status RedisQueue::cancel(std::string_view id) {
  auto r = main_->call({"SET", options_.prefix + ":cancel:" + std::string(id), "1", "EX", std::to_string(options_.retention.count())});
  return r ? Status{} : Status{Error{r.error()}};
}

Result<bool> RedisQueue::cancelled(std::string_view id) {
  auto r = main_->call({"EXISTS", options_.prefix + ":cancel:" + std::string(id)});
  if (!r) return Error{r.error()};
  return (*r)->integer == 1;
}

Result<std::vector<std::optional<std::string>>> RedisQueue::get_many(std::string_view kind, const std::vector<std::string>& ids) {
  std::vector<std::optional<std::string>> out;
  if (ids.empty()) return out;
  std::vector<std::string> args{"MGET"};
  for (const auto& id : ids) args.push_back(options_.prefix + ":" + std::string(kind) + ":" + id);
  Result<Reply> r = [&] {
    std::lock_guard lock(main_->mu);
    return main_->run_range(args);
  }();
  if (!r) return Error{r.error()};
  if ((*r)->type != REDIS_REPLY_ARRAY || (*r)->elements != ids.size()) return Error{"Redis: MGET answered in a shape not known"};
  for (size_t i = 0; i < ids.size(); ++i) {
    const redisReply* e = (*r)->element[i];
    out.push_back(e->type == REDIS_REPLY_NIL ? std::nullopt : std::optional<std::string>(std::string(text_of(e))));
  }
  return out;
}

Result<std::vector<std::optional<std::string>>> RedisQueue::results(const std::vector<std::string>& ids) { return get_many("result", ids); }

Result<std::vector<bool>> RedisQueue::cancelled(const std::vector<std::string>& ids) {
  auto got = get_many("cancel", ids);
  if (!got) return Error{got.error()};
  std::vector<bool> out;
  for (const auto& v : *got) out.push_back(v.has_value());
  return out;
}

Result<size_t> RedisQueue::length() {
  auto r = main_->call({"XLEN", options_.prefix + ":stream"});
  if (!r) return Error{r.error()};
  return size_t((*r)->integer);
}

}  // namespace exec
