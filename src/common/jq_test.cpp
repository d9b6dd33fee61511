#include "common/jq.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include "testing/temp_dir.h"

namespace akvo::jq {
namespace {

std::string outputs(const std::string& program, const std::string& input = "null") {
  std::string s;
  for (const auto& v : Program::compile(program).all(Value::parse(input))) {
    if (!s.empty()) s += ' ';
    s += v.dump();
  }
  return s;
}

std::string runError(const std::string& program, const std::string& input = "null") {
  try {
    Program::compile(program).all(Value::parse(input));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string parseError(const std::string& program) {
  try {
    Program::compile(program);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "(no error)";
}

// The shape of https://ip-ranges.amazonaws.com/ip-ranges.json.
const char* kAwsRanges = R"({
  "syncToken": "1717000000",
  "createDate": "2024-05-29-16-13-44",
  "prefixes": [
    {"ip_prefix": "3.2.34.0/26", "region": "af-south-1", "service": "AMAZON",
     "network_border_group": "af-south-1"},
    {"ip_prefix": "52.94.76.0/22", "region": "us-west-2", "service": "EC2",
     "network_border_group": "us-west-2"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "S3",
     "network_border_group": "us-west-2"}
  ]
})";

// Akvorado's documented example, verbatim.
TEST(Jq, AkvoradoAwsExample) {
  const char* transform =
      R"((.prefixes + .ipv6_prefixes)[] | { prefix: (.ip_prefix // .ipv6_prefix), tenant: "amazon", region: .region, role: .service|ascii_downcase })";
  auto out = Program::compile(transform).all(Value::parse(kAwsRanges));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].dump(),
            R"({"prefix":"3.2.34.0/26","tenant":"amazon","region":"af-south-1","role":"amazon"})");
  EXPECT_EQ(out[1].dump(),
            R"({"prefix":"52.94.76.0/22","tenant":"amazon","region":"us-west-2","role":"ec2"})");
  EXPECT_EQ(out[2].dump(),
            R"({"prefix":"2600:1f14::/35","tenant":"amazon","region":"us-west-2","role":"s3"})");
}

TEST(Jq, Basics) {
  EXPECT_EQ(outputs(".", R"({"a":1})"), R"({"a":1})");
  EXPECT_EQ(outputs(".a.b", R"({"a":{"b":2}})"), "2");
  EXPECT_EQ(outputs(R"(.["x y"])", R"({"x y":3})"), "3");
  EXPECT_EQ(outputs(".[]", "[1,2,3]"), "1 2 3");
  EXPECT_EQ(outputs(".[1], .[-1]", "[1,2,3]"), "2 3");
  EXPECT_EQ(outputs(".a?", "[1]"), "");
  EXPECT_EQ(outputs("[.[] | select(. > 1)]", "[1,2,3]"), "[2,3]");
}

TEST(Jq, ObjectShorthandsAndComputedKeys) {
  EXPECT_EQ(outputs(R"(. as $x | {a, "b", $x, (.k): .v, "\(.k)2": 1})",
                    R"({"a":1,"b":2,"k":"key","v":3})"),
            R"({"a":1,"b":2,"x":{"a":1,"b":2,"k":"key","v":3},"key":3,"key2":1})");
}

TEST(Jq, StringInterpolation) {
  EXPECT_EQ(outputs(R"j("\(.a)-\(.b)/\(.c)")j", R"({"a":"x","b":1,"c":[1]})"), R"("x-1/[1]")");
  EXPECT_EQ(outputs(R"("\u00e9\t\"")"), R"("é\t\"")");
}

TEST(Jq, AlternativeSwallowsErrors) {
  // As jq 1.7 and gojq (Akvorado's): errors on the left count as no value.
  EXPECT_EQ(outputs(R"((error("x")) // 1)"), "1");
  EXPECT_EQ(outputs(".a // .b", R"({"a":false,"b":2})"), "2");
  EXPECT_EQ(outputs("(.[] | select(. > 5)) // 0", "[1,2]"), "0");
}

TEST(Jq, TryOnlyCatchesItsBody) {
  EXPECT_EQ(outputs(R"(try error("boom") catch .)"), R"("boom")");
  EXPECT_EQ(outputs(R"([.[] | try (if . == 2 then error("x") else . end)])", "[1,2,3]"), "[1,3]");
  // The error comes after the try: it goes through.
  EXPECT_EQ(runError(R"((try 1) | error("after"))"), "after");
  EXPECT_EQ(runError(R"(first((try (1,2)) | error("after")))"), "after");
  EXPECT_EQ(outputs(R"([.[]?])", "3"), "[]");
}

TEST(Jq, GeneratorsStopEarly) {
  EXPECT_EQ(outputs("first(.[] | select(. > 1))", "[1,2,3]"), "2");
  EXPECT_EQ(outputs("[limit(2; .[])]", "[1,2,3]"), "[1,2]");
  EXPECT_EQ(outputs("[first(empty)]"), "[]");
  EXPECT_EQ(outputs("isempty(empty), isempty(1)"), "true false");
  EXPECT_EQ(outputs("[limit(0; 1, 2)]"), "[]");  // jq 1.7 (jq 1.6 gave [1])
}

TEST(Jq, RegexWithRe2) {
  EXPECT_EQ(outputs(R"([.[] | select(test("^eu-"))])", R"(["eu-west-1","us-east-1"])"),
            R"(["eu-west-1"])");
  EXPECT_EQ(outputs(R"(test("EU"; "i"))", R"("eu-west")"), "true");
  EXPECT_EQ(outputs(R"j(sub("(?P<n>[0-9]+)"; "<\(.n)>"))j", R"("ae12b34")"), R"("ae<12>b34")");
  EXPECT_EQ(outputs(R"(gsub("[0-9]"; "#"))", R"("a1b2")"), R"("a#b#")");
  EXPECT_NE(runError(R"(test("("))", R"("x")").find("not a valid regex"), std::string::npos);
}

TEST(Jq, FromEntriesAsJq17) {
  EXPECT_EQ(outputs("from_entries", R"([{"k":"c","v":3},{"key":false,"value":1},{"Key":"d"}])"),
            R"({"c":3,"false":1,"d":null})");
}

TEST(Jq, RunTimeErrorsAreJqs) {
  EXPECT_EQ(runError(".a", "[1]"), "Cannot index array with \"a\"");
  EXPECT_EQ(runError(".[]", "null"), "Cannot iterate over null (null)");
  EXPECT_EQ(runError(R"(. + 1)", R"("a")"), "string (\"a\") and number (1) cannot be added");
  EXPECT_EQ(runError("{(.): 1}", "1"), "Object keys must be strings, not number (1)");
  EXPECT_EQ(runError("tonumber", R"("12x")"), "Cannot parse '12x' as a number");
}

TEST(Jq, ParseErrorsSayWhereAndWhat) {
  EXPECT_EQ(parseError("{a: 1"), "1:6: expected ',' or '}' in an object but found end of input");
  EXPECT_EQ(parseError(".a | (.b"), "1:9: expected ')' but found end of input");
  EXPECT_EQ(parseError("map(.)\n| frobnicate(1)"), "2:3: frobnicate/1 is not a known function");
  EXPECT_EQ(parseError(".a = 1"), "1:4: '=' is not supported (no assignment nor destructuring)");
  EXPECT_EQ(parseError("$x"), "1:1: $x is not defined");
  EXPECT_EQ(parseError("if . then 1 els 2 end"),
            "1:13: expected 'elif', 'else' or 'end' but found 'els'");
  EXPECT_EQ(parseError("\"abc"), "1:1: unterminated string");
  EXPECT_EQ(parseError("1 < 2 < 3"), "1:7: comparisons do not chain: add parentheses");
  EXPECT_EQ(parseError("def f: 1; f"), "1:1: 'def' is not supported (no function definitions)");
  EXPECT_EQ(parseError("@base64"), "1:1: formats (@base64, @csv...) are not supported");
  try {
    Program::compile("  .a |\n  ]");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line, 2u);
    EXPECT_EQ(e.column, 3u);
    EXPECT_EQ(e.offset, 9u);
  }
}

TEST(Jq, DepthAndBudgetAreBounded) {
  EXPECT_NE(
      parseError(std::string(300, '(') + "." + std::string(300, ')')).find("nested too deeply"),
      std::string::npos);
  std::string chain = ".";
  for (int i = 0; i < 400; i++) chain += ",.";
  EXPECT_NE(parseError(chain).find("nested too deeply"), std::string::npos);
  auto p = Program::compile("[range(1000000)] | length");
  EXPECT_THROW(p.all(nullptr, 10000), Error);
  EXPECT_EQ(p.all(nullptr)[0], 1000000);
  // A budget error cannot be caught by the program.
  EXPECT_THROW(Program::compile("try [range(1000000)] catch 0").all(nullptr, 10000), Error);
}

// The same programs through the real jq: the outputs (or the failure) must agree. jq 1.6
// differs from jq 1.7 and gojq on a few points tested above instead (`error // 1`, `if` without
// `else`, ltrimstr on non-strings...), so they are not in this table.
struct Case {
  const char* program;
  const char* input;
};
const Case kCases[] = {
    {".", R"({"b":1,"a":[1,2,{"c":null}]})"},
    {".a", R"({"a":1})"},
    {".a.b.c", R"({"a":{"b":{"c":"deep"}}})"},
    {".a.b", R"({"a":null})"},
    {".[\"a\"]", R"({"a":1})"},
    {".a[\"b\"]", R"({"a":{"b":2}})"},
    {".[0]", "[1,2,3]"},
    {".[-1]", "[1,2,3]"},
    {".[10]", "[1,2,3]"},
    {".[1:]", "[1,2,3]"},
    {".[:2]", "[1,2,3]"},
    {".[1:2]", R"("abc")"},
    {".[]", R"({"a":1,"b":2})"},
    {".[]?", "1"},
    {".a?", "[1]"},
    {".a", "[1]"},
    {".[]", "null"},
    {".[] | .x", R"([{"x":1},{"x":2}])"},
    {"[.[] | .x * 2]", R"([{"x":1},{"x":2.5}])"},
    {".a, .b", R"({"a":1,"b":2})"},
    {"[.[] | (., . + 1)]", "[1,2]"},
    {"{a: .x, b: (.y, .z)}", R"({"x":1,"y":2,"z":3})"},
    {"{(.k): .v}", R"({"k":"key","v":1})"},
    {"{a, b}", R"({"a":1,"b":2,"c":3})"},
    {"{\"a b\": 1, c: [.[]]}", "[1,2]"},
    {"[(1,2) + (10,20)]", "null"},
    {"\"\\(1,2)-\\(3,4)\"", "null"},
    {"[.[] [0,1]]", "[[1,2],[3,4]]"},
    {".[.a]", R"({"a":"b","b":1})"},
    {"[(true,false) and (true,false)]", "null"},
    {"[(true,false) or (true,false)]", "null"},
    {"[.[] | not]", "[true,false,null,0,\"\"]"},
    {"1 + 2 * 3 - 4 / 2", "null"},
    {"10 % 3, -5 % 2, 5 % -2", "null"},
    {"[1,2,2,3] - [2]", "null"},
    {". + {b: 3}", R"({"a":1,"b":2})"},
    {". * {a: {y: 2}}", R"({"a":{"x":1}})"},
    {"null + 1, 1 + null", "null"},
    {"\"a,b,c\" / \",\"", "null"},
    {"3 / 2, 4 / 2", "null"},
    {"1 / 0", "null"},
    {"[1, \"a\", null, [1], {}, true, false] | sort", "null"},
    {"[.[] | . == 1]", "[1, 1.0, \"1\", [1]]"},
    {"[1 < 2, \"a\" < \"b\", [1] < [1,0], {} < [], null < false]", "null"},
    {"{\"a\":1,\"b\":2} == {\"b\":2,\"a\":1}", "null"},
    {"if . > 2 then \"big\" elif . > 1 then \"medium\" else \"small\" end", "2"},
    {"[.[] | if . then 1 else 0 end]", "[true, false, null, 0]"},
    {".a // \"default\"", "{}"},
    {".a // \"default\"", R"({"a":false})"},
    {"[.[] // 0]", "[null, 1]"},
    {"(.[] | select(. > 5)) // \"none\"", "[1,2]"},
    {"map(. * 10)", "[1,2,3]"},
    {"map(select(.on)) | length", R"([{"on":true},{"on":false},{}])"},
    {"to_entries", R"({"b":1,"a":2})"},
    {"from_entries", R"([{"key":"a","value":1},{"name":"b","value":2}])"},
    {"with_entries({key: .key, value: (.value + 1)})", R"({"a":1})"},
    {"with_entries(select(.key != \"b\"))", R"({"a":1,"b":2})"},
    {"[.[] | ascii_downcase]", R"(["ABC","Déjà VU"])"},
    {"[.[] | ascii_upcase]", R"(["abc","déjà vu"])"},
    {"[.[] | tostring]", R"([1, "a", null, [1,2], {"a":1}, 1.5, true])"},
    {"[.[] | tonumber]", R"(["1", "1.5", "-3", 4])"},
    {"\"x\" | tonumber", "null"},
    {"[.[] | length]", R"([[1,2], "héllo", {"a":1}, null, -5])"},
    {"true | length", "null"},
    {"split(\",\")", R"("a,b,,c")"},
    {"split(\", \")", R"("a, b")"},
    {"join(\"-\")", R"(["a", 1, null, true])"},
    {"join(\"-\")", "[[1]]"},
    {"join(\", \")", "[]"},
    {"[.[] | test(\"^10\\\\.\")]", R"(["10.0.0.1", "100.0.0.1"])"},
    {"[.[] | test(\"a.c\"; \"i\")]", R"(["ABC", "xyz"])"},
    {"[.[] | startswith(\"eu-\"), endswith(\"-1\")]", R"(["eu-west-1", "us-east-2"])"},
    {"[.[] | ltrimstr(\"AS\")]", R"(["AS64500", "64501"])"},
    {"[.[] | rtrimstr(\".example.com\")]", R"(["r1.example.com", "r2"])"},
    {"keys", R"({"b":1,"a":2,"c":3})"},
    {"keys_unsorted", R"({"b":1,"a":2})"},
    {"keys", "[5,6]"},
    {"[has(\"a\"), has(\"z\")]", R"({"a":null})"},
    {"[has(0), has(5)]", "[1]"},
    {"has(\"a\")", "[1]"},
    {"first, last", "[1,2,3]"},
    {"first", "[]"},
    {"[first(.[]), last(.[])]", "[4,5,6]"},
    {"[.[] | empty]", "[1,2]"},
    {"[limit(3; .[])]", "[1,2,3,4,5]"},
    {"add", "[1,2,3]"},
    {"add", R"(["a","b"])"},
    {"add", "[[1],[2]]"},
    {"add", "[]"},
    {"[any, all]", "[true, false]"},
    {"[any(. > 2), all(. > 0)]", "[1,2,3]"},
    {"type", R"({"a":1})"},
    {"[.[] | type]", R"([0, "", null, true, [], {}])"},
    {"reverse", "[1,2,3]"},
    {"unique", "[3,1,2,1,3]"},
    {"sort_by(.n)", R"([{"n":2,"i":0},{"n":1,"i":1},{"n":2,"i":2}])"},
    {"group_by(.g) | map(length)", R"([{"g":"a"},{"g":"b"},{"g":"a"}])"},
    {"unique_by(.g) | map(.g)", R"([{"g":"b"},{"g":"a"},{"g":"b"}])"},
    {"[min, max]", "[3,1,2]"},
    {"[min_by(.x), max_by(.x)] | map(.i)", R"([{"x":2,"i":0},{"x":1,"i":1},{"x":2,"i":2}])"},
    {"[.[] | floor, sqrt]", "[4.5, 16]"},
    {"flatten", "[1,[2,[3,[4]]]]"},
    {"flatten(1)", "[1,[2,[3,[4]]]]"},
    {"[range(5)]", "null"},
    {"[range(2; 5)]", "null"},
    {"[.[] | tojson]", R"([1, "a", [1,{"b":null}]])"},
    {"[.[] | fromjson]", R"(["1", "{\"a\":[1,2]}"])"},
    {"contains(\"bar\")", R"("foobar")"},
    {"contains([\"baz\", \"bar\"])", R"(["foobar", "foobaz", "blarp"])"},
    {"contains({foo: 12, bar: [{barp: 12}]})",
     R"({"foo": 12, "bar":[1,2,{"barp":12, "blip":13}]})"},
    {"[.[] | in({\"a\":1})]", R"(["a","b"])"},
    {"map_values(. + 1)", R"({"a":1,"b":2})"},
    {". as $x | [$x, .a]", R"({"a":1})"},
    {".[] as $x | $x * 2", "[1,2]"},
    {". as $a | .b as $b | {a: $a.a, b: $b}", R"({"a":1,"b":2})"},
    {"reduce .[] as $x (0; . + $x)", "[1,2,3,4]"},
    {"reduce .[] as $p ({}; . + {($p.k): $p.v})", R"([{"k":"a","v":1},{"k":"b","v":2}])"},
    {"[.[] | try error(\"x\") catch .]", "[1,2]"},
    {"try error({a: 1}) catch .a", "null"},
    {"[.[] | try (if . > 1 then error(\"big\") else . end)]", "[1,2,3]"},
    {"error(\"custom\")", "null"},
    {"[..]", R"({"a":[1,{"b":2}]})"},
    {"[.. | numbers]", R"({"a":[1,{"b":2}],"c":"x"})"},
    {"[.[] | strings, nulls]", R"([1,"a",null])"},
    {"[.[] | scalars]", R"([1,"a",[],{}])"},
    {"-(.a)", R"({"a":3})"},
    {"[-1, - .]", "2"},
    {"\"abc\" | .[0]", "null"},
    {"{a:1} | .a.b", "null"},
    {"{a: 1 + 2}", "null"},
    {"{a: .x | tostring}", R"({"x":1})"},
    {"[.[] | select(.region | test(\"^eu\")) | .prefix]",
     R"([{"region":"eu-west-1","prefix":"a"},{"region":"us-east-1","prefix":"b"}])"},
    {".prefixes | map({prefix: .ip_prefix, region})",
     R"({"prefixes":[{"ip_prefix":"1.0.0.0/8","region":"r"}]})"},
    {"[.[] | {prefix: .[0], name: .[1]}]", R"([["192.0.2.0/24","a"],["198.51.100.0/24","b"]])"},
    {"[.[] | split(\"/\") | .[0]]", R"(["192.0.2.0/24"])"},
    {"\"\\(.a) is \\(.b)\"", R"({"a":"x","b":{"c":[1]}})"},
    {"[.[] | \"AS\\(.)\"]", "[64500, 64501]"},
    {".a.b |", "null"},
    {"map(", "null"},
    {"{a: 1", "null"},
    {"[1,2", "null"},
    {"]", "null"},
};

bool haveJq() { return std::system("jq --version >/dev/null 2>&1") == 0; }

/// jq's outputs for `program` on `input`, one compact JSON document per line; nullopt when it
/// fails (syntax or run-time error).
std::optional<std::vector<std::string>> realJq(const std::string& program,
                                               const std::string& input) {
  auto dir = akvo::testing::tempDir() / "jq";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "program.jq") << program;
  std::ofstream(dir / "input.json") << input;
  std::string cmd = "jq -c -f " + (dir / "program.jq").string() + " " +
                    (dir / "input.json").string() + " 2>/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int status = pclose(f);
  if (status != 0) return std::nullopt;
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(Value::parse(line).dump());
  return lines;
}

TEST(Jq, AgreesWithTheRealJq) {
  if (!haveJq()) GTEST_SKIP() << "jq is not installed (apt-get install jq)";
  int checked = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string("program: ") + c.program + "  input: " + c.input);
    auto want = realJq(c.program, c.input);
    std::optional<std::vector<std::string>> got;
    std::string error;
    try {
      std::vector<std::string> lines;
      for (const auto& v : Program::compile(c.program).all(Value::parse(c.input)))
        lines.push_back(v.dump());
      got = lines;
    } catch (const Error& e) {
      error = std::string("run-time error: ") + e.what();
    } catch (const ParseError& e) {
      error = std::string("parse error: ") + e.what();
    }
    if (!want) {
      EXPECT_FALSE(got) << "jq fails, akvo gives " << ::testing::PrintToString(*got);
    } else {
      EXPECT_TRUE(got) << "jq gives " << ::testing::PrintToString(*want) << ", akvo: " << error;
      if (got) {
        EXPECT_EQ(*got, *want);
      }
    }
    checked++;
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace akvo::jq
