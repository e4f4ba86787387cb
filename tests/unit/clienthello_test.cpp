#include "dataplane/clienthello.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "allocation_counter.h"

namespace cloudlink::tls {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kHandshake = 22;
constexpr uint8_t kAlert = 21;
constexpr uint8_t kChangeCipherSpec = 20;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxFragment = 16384;

// ---- Parsing with the scratch the dataplane gives it ----------------------------------------

// data is always a vector of exactly the input's size, so ASan catches a read one past the end.
HelloResult parse(const Bytes& data, Bytes& scratch) { return parse_client_hello(data, scratch); }

HelloResult parse(const Bytes& data) {
  static Bytes scratch(kMaxClientHelloBytes);
  return parse(data, scratch);
}

Bytes prefix(const Bytes& data, size_t n) { return Bytes(data.begin(), data.begin() + n); }

// ---- Record framing -------------------------------------------------------------------------

void put16(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put24(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 16));
  put16(out, v & 0xffff);
}

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

Bytes record(uint8_t type, const Bytes& fragment) {
  Bytes out = {type, 3, 1};
  put16(out, fragment.size());
  append(out, fragment);
  return out;
}

// The handshake bytes carried by a run of well-formed records.
Bytes handshake_of(const Bytes& records) {
  Bytes stream;
  for (size_t pos = 0; pos + kRecordHeader <= records.size();) {
    const size_t length = (size_t{records[pos + 3]} << 8) | records[pos + 4];
    stream.insert(stream.end(), records.begin() + pos + kRecordHeader,
                  records.begin() + pos + kRecordHeader + length);
    pos += kRecordHeader + length;
  }
  return stream;
}

// The handshake in records whose fragments end at the given offsets (and at the end).
Bytes frame_at(const Bytes& handshake, std::vector<size_t> cuts) {
  cuts.push_back(handshake.size());
  Bytes out;
  size_t from = 0;
  for (size_t cut : cuts) {
    append(out, record(kHandshake, Bytes(handshake.begin() + from, handshake.begin() + cut)));
    from = cut;
  }
  return out;
}

// The handshake in records of at most `fragment` bytes each.
Bytes frame_every(const Bytes& handshake, size_t fragment) {
  std::vector<size_t> cuts;
  for (size_t cut = fragment; cut < handshake.size(); cut += fragment) cuts.push_back(cut);
  return frame_at(handshake, cuts);
}

// ---- A synthetic ClientHello ----------------------------------------------------------------

Bytes extension(uint16_t type, const Bytes& body) {
  Bytes out;
  put16(out, type);
  put16(out, body.size());
  append(out, body);
  return out;
}

struct NameEntry {
  uint8_t type;
  std::string name;
};

// server_name extension body: ServerNameList of the given entries.
Bytes server_name_list(const std::vector<NameEntry>& entries) {
  Bytes list;
  for (const NameEntry& e : entries) {
    list.push_back(e.type);
    put16(list, e.name.size());
    list.insert(list.end(), e.name.begin(), e.name.end());
  }
  Bytes out;
  put16(out, list.size());
  append(out, list);
  return out;
}

Bytes sni_extension(const std::string& name) { return extension(0, server_name_list({{0, name}})); }

// Field by field, so a test can break exactly one of them.
struct HelloBuilder {
  uint8_t version_major = 3;
  Bytes session_id = Bytes(32, 0xAB);
  Bytes cipher_suites = {0x13, 0x01, 0x13, 0x02, 0xC0, 0x2F};
  Bytes compression_methods = {0};
  bool has_extensions = true;
  std::vector<Bytes> extensions = {extension(0x000A, {0x00, 0x02, 0x00, 0x1D}),
                                   sni_extension("app.example.com"),
                                   extension(0x002B, {0x02, 0x03, 0x04})};
  int extensions_length_delta = 0;
  int handshake_length_delta = 0;

  Bytes body() const {
    Bytes out = {version_major, 3};
    out.insert(out.end(), 32, 0x5A);  // random
    out.push_back(static_cast<uint8_t>(session_id.size()));
    append(out, session_id);
    put16(out, cipher_suites.size());
    append(out, cipher_suites);
    out.push_back(static_cast<uint8_t>(compression_methods.size()));
    append(out, compression_methods);
    if (!has_extensions) return out;
    Bytes all;
    for (const Bytes& e : extensions) append(all, e);
    put16(out, static_cast<size_t>(static_cast<int>(all.size()) + extensions_length_delta));
    append(out, all);
    return out;
  }

  Bytes handshake() const {
    const Bytes b = body();
    Bytes out = {1};
    put24(out, static_cast<size_t>(static_cast<int>(b.size()) + handshake_length_delta));
    append(out, b);
    return out;
  }

  Bytes records() const { return record(kHandshake, handshake()); }
};

// ---- Captured vectors -----------------------------------------------------------------------

struct Vector {
  std::string file;
  std::string sni;
  std::string client;
  Bytes bytes;
};

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<Vector> load_vectors() {
  const std::string dir = CLOUDLINK_TEST_VECTORS;
  std::ifstream manifest(dir + "/vectors.tsv");
  std::vector<Vector> vectors;
  std::string line;
  while (std::getline(manifest, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Vector v;
    std::getline(fields, v.file, '\t');
    std::getline(fields, v.sni, '\t');
    std::getline(fields, v.client, '\t');
    v.bytes = read_file(dir + "/" + v.file);
    vectors.push_back(std::move(v));
  }
  return vectors;
}

const std::vector<Vector>& vectors() {
  static const std::vector<Vector> loaded = load_vectors();
  return loaded;
}

// ---- Expectations ---------------------------------------------------------------------------

void expect_complete(const Bytes& data, std::string_view sni) {
  const HelloResult r = parse(data);
  EXPECT_EQ(r.status, HelloStatus::kComplete) << r.reason;
  EXPECT_EQ(r.server_name, sni);
  EXPECT_STREQ(r.reason, "");
}

void expect_status(const Bytes& data, HelloStatus status) {
  const HelloResult r = parse(data);
  EXPECT_EQ(r.status, status) << r.reason;
  EXPECT_TRUE(r.server_name.empty());
  if (status == HelloStatus::kNeedMore) {
    EXPECT_STREQ(r.reason, "");
  } else {
    EXPECT_STRNE(r.reason, "");
  }
}

void expect_malformed(const Bytes& data) { expect_status(data, HelloStatus::kMalformed); }

// Every strict prefix is "read more"; the first mismatch is reported once, not per prefix.
void expect_prefixes_need_more(const Bytes& data) {
  for (size_t n = 0; n < data.size(); ++n) {
    const HelloResult r = parse(prefix(data, n));
    if (r.status != HelloStatus::kNeedMore) {
      ADD_FAILURE() << "prefix of " << n << "/" << data.size() << " bytes: status "
                    << static_cast<int>(r.status) << " (" << r.reason << ")";
      return;
    }
  }
}

// ---- Captured vectors: whole, prefixes, re-framed -------------------------------------------

TEST(ClientHelloVectors, ManifestListsEveryCapture) {
  ASSERT_GE(vectors().size(), 6u) << "read " << CLOUDLINK_TEST_VECTORS "/vectors.tsv";
  bool no_sni = false;
  bool multi_record = false;
  for (const Vector& v : vectors()) {
    ASSERT_FALSE(v.bytes.empty()) << v.file;
    no_sni |= v.sni.empty();
    multi_record |= handshake_of(v.bytes).size() + kRecordHeader < v.bytes.size();
  }
  EXPECT_TRUE(no_sni) << "no capture without SNI";
  EXPECT_TRUE(multi_record) << "no capture spanning several records";
}

class ClientHelloVector : public ::testing::TestWithParam<size_t> {
 protected:
  const Vector& v() const { return vectors()[GetParam()]; }
};

TEST_P(ClientHelloVector, ParsesCompleteWithTheExpectedName) {
  SCOPED_TRACE(v().client);
  expect_complete(v().bytes, v().sni);
}

TEST_P(ClientHelloVector, NameIsInDataForOneRecordAndInScratchForSeveral) {
  Bytes scratch(kMaxClientHelloBytes);
  const HelloResult r = parse(v().bytes, scratch);
  ASSERT_EQ(r.status, HelloStatus::kComplete) << r.reason;
  if (r.server_name.empty()) return;
  const auto inside = [&](const Bytes& buffer) {
    const auto* p = reinterpret_cast<const uint8_t*>(r.server_name.data());
    return p >= buffer.data() && p + r.server_name.size() <= buffer.data() + buffer.size();
  };
  const bool one_record = handshake_of(v().bytes).size() + kRecordHeader == v().bytes.size();
  EXPECT_EQ(inside(v().bytes), one_record);
  EXPECT_EQ(inside(scratch), !one_record);
}

TEST_P(ClientHelloVector, EveryStrictPrefixNeedsMore) { expect_prefixes_need_more(v().bytes); }

TEST_P(ClientHelloVector, DoesNotAllocate) {
  Bytes scratch(kMaxClientHelloBytes);
  HelloResult r;
  const long allocations = testing::allocations_during([&] { r = parse(v().bytes, scratch); });
  EXPECT_EQ(r.status, HelloStatus::kComplete);
  EXPECT_EQ(allocations, 0);
}

TEST_P(ClientHelloVector, OneRecordAndTwoRecordsAtEveryCut) {
  const Bytes handshake = handshake_of(v().bytes);
  expect_complete(frame_at(handshake, {}), v().sni);
  for (size_t cut = 1; cut < handshake.size(); ++cut) {
    const HelloResult r = parse(frame_at(handshake, {cut}));
    ASSERT_EQ(r.status, HelloStatus::kComplete) << "cut at " << cut << ": " << r.reason;
    ASSERT_EQ(r.server_name, v().sni) << "cut at " << cut;
  }
}

TEST_P(ClientHelloVector, TwoRecordsEveryStrictPrefixNeedsMore) {
  const Bytes handshake = handshake_of(v().bytes);
  expect_prefixes_need_more(frame_at(handshake, {handshake.size() / 2}));
}

TEST_P(ClientHelloVector, OneByteRecords) {
  const Bytes framed = frame_every(handshake_of(v().bytes), 1);
  if (framed.size() > kMaxClientHelloBytes) {
    // Record headers count against the cap: six times the bytes is too large, all at once or
    // as soon as a record would cross the cap.
    EXPECT_EQ(parse(framed).status, HelloStatus::kTooLarge);
    const HelloResult r = parse(prefix(framed, kMaxClientHelloBytes));
    EXPECT_TRUE(r.status == HelloStatus::kNeedMore || r.status == HelloStatus::kTooLarge)
        << r.reason;
    return;
  }
  expect_complete(framed, v().sni);
  expect_prefixes_need_more(framed);
}

TEST_P(ClientHelloVector, RecordsOfEverySmallSize) {
  const Bytes handshake = handshake_of(v().bytes);
  for (size_t fragment = 2; fragment <= 64; ++fragment) {
    const Bytes framed = frame_every(handshake, fragment);
    const HelloResult r = parse(framed);
    if (framed.size() > kMaxClientHelloBytes) {
      ASSERT_EQ(r.status, HelloStatus::kTooLarge) << fragment << "-byte records";
      continue;
    }
    ASSERT_EQ(r.status, HelloStatus::kComplete) << fragment << "-byte records: " << r.reason;
    ASSERT_EQ(r.server_name, v().sni);
  }
}

TEST_P(ClientHelloVector, BytesAfterTheLastRecordAreNotRead) {
  Bytes data = v().bytes;
  append(data, record(kChangeCipherSpec, {1}));
  expect_complete(data, v().sni);
  append(data, {23, 3, 3, 0x40});  // the start of an application data record
  expect_complete(data, v().sni);
  Bytes split = frame_at(handshake_of(v().bytes), {7});
  append(split, record(kChangeCipherSpec, {1}));
  expect_complete(split, v().sni);
}

TEST_P(ClientHelloVector, AlertRecordInsteadOfTheSecondFragmentIsMalformed) {
  const Bytes handshake = handshake_of(v().bytes);
  Bytes data = frame_at(handshake, {handshake.size() / 2});
  data[kRecordHeader + handshake.size() / 2] = kAlert;
  expect_malformed(data);
}

TEST_P(ClientHelloVector, TrailingBytesInTheFinalRecordAreMalformed) {
  Bytes handshake = handshake_of(v().bytes);
  append(handshake, {0x14, 0x00, 0x00});
  expect_malformed(frame_at(handshake, {}));
  expect_malformed(frame_at(handshake, {handshake.size() / 2}));
  const Bytes data = frame_at(handshake, {});
  expect_malformed(prefix(data, data.size() - 3));
}

std::string vector_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name = vectors()[info.param].file;
  name = name.substr(0, name.find('.'));
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Captured, ClientHelloVector, ::testing::Range(size_t{0}, vectors().size()),
                         vector_name);

// ---- Synthetic hellos: the happy paths ------------------------------------------------------

TEST(ClientHello, SyntheticHelloParses) {
  expect_complete(HelloBuilder{}.records(), "app.example.com");
}

TEST(ClientHello, EmptyInputNeedsMore) { expect_status({}, HelloStatus::kNeedMore); }

TEST(ClientHello, NoExtensionsAtAllHasNoName) {
  HelloBuilder b;
  b.has_extensions = false;
  expect_complete(b.records(), "");
  expect_prefixes_need_more(b.records());
}

TEST(ClientHello, EmptyExtensionsBlockHasNoName) {
  HelloBuilder b;
  b.extensions.clear();
  expect_complete(b.records(), "");
}

TEST(ClientHello, ServerNameAsTheLastExtension) {
  HelloBuilder b;
  b.extensions = {extension(0x002B, {0x02, 0x03, 0x04}), sni_extension("last.example")};
  expect_complete(b.records(), "last.example");
}

TEST(ClientHello, NameIsReturnedAsSent) {
  HelloBuilder b;
  b.extensions = {sni_extension("MiXeD.Example.COM.")};
  expect_complete(b.records(), "MiXeD.Example.COM.");
}

TEST(ClientHello, UnknownNameTypesAreSkipped) {
  HelloBuilder b;
  b.extensions = {extension(0, server_name_list({{7, "other"}, {0, "host.example"}}))};
  expect_complete(b.records(), "host.example");
  b.extensions = {extension(0, server_name_list({{7, "other"}}))};
  expect_complete(b.records(), "");
}

TEST(ClientHello, EmptySessionIdAndManyCompressionMethods) {
  HelloBuilder b;
  b.session_id.clear();
  b.compression_methods = {1, 0};
  expect_complete(b.records(), "app.example.com");
}

TEST(ClientHello, LongestNameInOneRecord) {
  HelloBuilder b;
  const std::string name(255, 'n');
  b.extensions = {sni_extension(name)};
  expect_complete(b.records(), name);
}

// ---- Synthetic hellos: lengths that lie -----------------------------------------------------

TEST(ClientHelloMalformed, RecordLength) {
  const Bytes good = HelloBuilder{}.records();
  Bytes shorter = good;  // the last handshake byte is then read as a record type
  shorter[4] -= 1;
  expect_malformed(shorter);
  Bytes longer = good;  // one byte more than the ClientHello in its record
  longer[4] += 1;
  longer.push_back(0);
  expect_malformed(longer);
  Bytes zero = good;
  zero[3] = zero[4] = 0;
  expect_malformed(zero);
}

TEST(ClientHelloMalformed, ZeroLengthHandshakeRecord) {
  // RFC 8446 5.1: handshake records never carry an empty fragment.
  Bytes data = record(kHandshake, {});
  append(data, HelloBuilder{}.records());
  expect_malformed(data);
  const Bytes handshake = HelloBuilder{}.handshake();
  data = frame_at(handshake, {10, 10});
  expect_malformed(data);
}

TEST(ClientHelloMalformed, RecordLongerThanTwoToTheFourteen) {
  Bytes data = {kHandshake, 3, 1};
  put16(data, kMaxFragment + 1);
  expect_malformed(data);
  append(data, HelloBuilder{}.handshake());
  expect_malformed(data);
}

TEST(ClientHelloMalformed, HandshakeLength) {
  HelloBuilder b;
  b.handshake_length_delta = -1;
  expect_malformed(b.records());
  b.handshake_length_delta = 1;  // claims one byte more than its extensions fill
  Bytes handshake = b.handshake();
  handshake.push_back(0);
  expect_malformed(frame_at(handshake, {}));
}

TEST(ClientHelloMalformed, NotAClientHello) {
  Bytes handshake = HelloBuilder{}.handshake();
  handshake[0] = 2;  // ServerHello
  expect_malformed(frame_at(handshake, {}));
  expect_malformed(frame_at(handshake, {1}));
}

TEST(ClientHelloMalformed, LegacyVersionNotThree) {
  HelloBuilder b;
  b.version_major = 2;
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, SessionIdOf33Bytes) {
  HelloBuilder b;
  b.session_id = Bytes(33, 1);
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, OddOrEmptyCipherSuites) {
  HelloBuilder b;
  b.cipher_suites = {0x13, 0x01, 0x13};
  expect_malformed(b.records());
  b.cipher_suites.clear();
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, ZeroCompressionMethods) {
  HelloBuilder b;
  b.compression_methods.clear();
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, ExtensionsLengthOffByOne) {
  for (int delta : {-1, 1}) {
    HelloBuilder b;
    b.extensions_length_delta = delta;
    SCOPED_TRACE(delta);
    expect_malformed(b.records());
  }
}

TEST(ClientHelloMalformed, ExtensionOverrunsTheBlock) {
  HelloBuilder b;
  Bytes overrun = {0x00, 0x10, 0x00, 0x09, 0x00, 0x02};  // ALPN declaring 9, carrying 2
  b.extensions.push_back(overrun);
  expect_malformed(b.records());
  b.extensions = {{0x00, 0x10, 0x00}};  // a header cut short by the block's end
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, ServerNameListLengthMismatch) {
  for (int delta : {-1, 1}) {
    Bytes body = server_name_list({{0, "app.example.com"}});
    const size_t list = ((size_t{body[0]} << 8) | body[1]) + delta;
    body[0] = static_cast<uint8_t>(list >> 8);
    body[1] = static_cast<uint8_t>(list);
    HelloBuilder b;
    b.extensions = {extension(0, body)};
    SCOPED_TRACE(delta);
    expect_malformed(b.records());
  }
}

TEST(ClientHelloMalformed, EmptyServerNameExtensionOrList) {
  HelloBuilder b;
  b.extensions = {extension(0, {})};
  expect_malformed(b.records());
  b.extensions = {extension(0, {0, 0})};
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, ZeroLengthHostName) {
  HelloBuilder b;
  b.extensions = {extension(0, server_name_list({{0, ""}}))};
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, HostNameOverrunsItsList) {
  HelloBuilder b;
  b.extensions = {extension(0, {0x00, 0x06, 0x00, 0x00, 0x09, 'a', 'b', 'c'})};
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, DuplicateServerNameExtension) {
  HelloBuilder b;
  b.extensions = {sni_extension("one.example"), sni_extension("two.example")};
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, TwoHostNameEntries) {
  HelloBuilder b;
  b.extensions = {extension(0, server_name_list({{0, "one.example"}, {0, "two.example"}}))};
  expect_malformed(b.records());
}

TEST(ClientHelloMalformed, LaterRecordIsAnAlert) {
  const Bytes handshake = HelloBuilder{}.handshake();
  Bytes data = record(kHandshake, prefix(handshake, 10));
  append(data, record(kAlert, {2, 40}));
  expect_malformed(data);
  data.resize(kRecordHeader + 10 + 1);  // the alert's type byte alone is enough
  expect_malformed(data);
}

TEST(ClientHelloMalformed, LaterRecordVersionNotThree) {
  const Bytes handshake = HelloBuilder{}.handshake();
  Bytes data = frame_at(handshake, {10});
  data[kRecordHeader + 10 + 1] = 2;
  expect_malformed(data);
}

TEST(ClientHelloMalformed, TrailingBytesInTheFinalRecord) {
  Bytes handshake = HelloBuilder{}.handshake();
  handshake.push_back(0);
  const Bytes data = frame_at(handshake, {});
  expect_malformed(data);
  // Caught as soon as the ClientHello is in, before the byte the record still promises.
  expect_malformed(prefix(data, data.size() - 1));
}

// A lie is reported once its bytes are in, even when the next record's header is still partial
// (the parser used to answer kNeedMore until that header was whole).
TEST(ClientHelloMalformed, LieBeforeAPartialRecordHeader) {
  HelloBuilder b;
  b.session_id = Bytes(33, 1);
  const Bytes data = frame_at(b.handshake(), {60});
  for (size_t header_bytes = 0; header_bytes < kRecordHeader; ++header_bytes) {
    SCOPED_TRACE(header_bytes);
    expect_malformed(prefix(data, kRecordHeader + 60 + header_bytes));
  }
}

// Found by clienthello_fuzz: one 100-byte record whose session id length is 0x88, then the
// first byte of a second record.
TEST(ClientHelloMalformed, FuzzLieBeforeAPartialRecordHeader) {
  const Bytes data = {0x16, 0x03, 0x01, 0x00, 0x64, 0x01, 0x00, 0x01, 0x3e, 0x03, 0x03, 0x88,
                      0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30,
                      0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xc0, 0x2f, 0x00, 0x3e, 0x13,
                      0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0xe2, 0x6d, 0x7d, 0x13, 0xcc, 0xd4,
                      0xdf, 0xb6, 0x00, 0x3b, 0x02, 0x82, 0x60, 0x43, 0x5c, 0x01, 0x00, 0x66,
                      0x2c, 0x88, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c,
                      0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0x35, 0xc0, 0x30, 0x00,
                      0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0xc0, 0x2f, 0x00, 0x9e,
                      0xc0, 0x24, 0xc0, 0x15, 0x03, 0xe2, 0x00, 0x02, 0x02, 0x16};
  expect_malformed(data);
  expect_malformed(prefix(data, data.size() - 1));
}

TEST(ClientHelloMalformed, ReasonsNameTheField) {
  HelloBuilder b;
  b.session_id = Bytes(33, 1);
  EXPECT_NE(std::string_view(parse(b.records()).reason).find("session id"), std::string::npos);
}

// ---- The 16 KiB cap -------------------------------------------------------------------------

// A hello whose handshake message is exactly `size` bytes, padded with a padding extension.
Bytes handshake_of_size(size_t size) {
  HelloBuilder b;
  const size_t base = b.handshake().size();
  b.extensions.push_back(extension(21, Bytes(size - base - 4, 0)));
  Bytes handshake = b.handshake();
  EXPECT_EQ(handshake.size(), size);
  return handshake;
}

TEST(ClientHelloTooLarge, DeclaredHandshakeOver16KiB) {
  Bytes data = {kHandshake, 3, 1, 0x40, 0x00, 1};
  put24(data, 0x4001);
  expect_status(data, HelloStatus::kTooLarge);
}

TEST(ClientHelloTooLarge, LargestHelloThatFitsOneRecordAtTheCap) {
  const Bytes fits = frame_at(handshake_of_size(kMaxClientHelloBytes - kRecordHeader), {});
  ASSERT_EQ(fits.size(), kMaxClientHelloBytes);
  expect_complete(fits, "app.example.com");
  expect_status(frame_at(handshake_of_size(kMaxClientHelloBytes - kRecordHeader + 1), {1000}),
                HelloStatus::kTooLarge);
}

TEST(ClientHelloTooLarge, RealSizedHandshakeOverTwoRecords) {
  const Bytes handshake = handshake_of_size(20000);
  const Bytes data = frame_every(handshake, kMaxFragment);
  expect_status(data, HelloStatus::kTooLarge);
  // A full-size record cannot fit under the cap with its own header: known from the record
  // header alone.
  expect_status(prefix(data, 5), HelloStatus::kTooLarge);
  expect_status(prefix(data, 4), HelloStatus::kNeedMore);
}

TEST(ClientHelloTooLarge, DoesNotAllocateOnErrors) {
  Bytes scratch(kMaxClientHelloBytes);
  const Bytes too_large = frame_every(handshake_of_size(20000), kMaxFragment);
  HelloBuilder b;
  b.extensions_length_delta = 1;
  const Bytes malformed = b.records();
  const long allocations = testing::allocations_during([&] {
    parse(too_large, scratch);
    parse(malformed, scratch);
  });
  EXPECT_EQ(allocations, 0);
}

// ---- Not TLS at all -------------------------------------------------------------------------

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

TEST(ClientHelloNotTls, PlainHttp) {
  expect_status(text("GET / HTTP/1.1\r\n"), HelloStatus::kNotTls);
}

TEST(ClientHelloNotTls, SslV2Hello) {
  expect_status({0x80, 0x2E, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10},
                HelloStatus::kNotTls);
}

TEST(ClientHelloNotTls, HandshakeTypeButNotVersionThree) {
  expect_status({kHandshake, 0xFE, 0xFD, 0x00, 0x10}, HelloStatus::kNotTls);
  expect_status({kHandshake, 0x00}, HelloStatus::kNotTls);
}

TEST(ClientHelloNotTls, OneByteIsEnough) {
  expect_status(text("G"), HelloStatus::kNotTls);
  expect_status({kHandshake}, HelloStatus::kNeedMore);
}

TEST(ClientHelloNotTls, RandomGarbage) {
  uint32_t state = 12345;
  for (int round = 0; round < 100; ++round) {
    Bytes garbage(64 + round);
    for (uint8_t& byte : garbage) {
      state = state * 1664525u + 1013904223u;  // Numerical Recipes LCG
      byte = static_cast<uint8_t>(state >> 24);
    }
    if (garbage[0] == kHandshake) garbage[0] = 0;
    expect_status(garbage, HelloStatus::kNotTls);
  }
}

}  // namespace
}  // namespace cloudlink::tls
