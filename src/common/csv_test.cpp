#include "common/csv.h"

#include <gtest/gtest.h>

namespace akvo {
namespace {

using Rows = std::vector<std::vector<std::string>>;

Rows all(std::string_view text, char sep = ',', bool trim = false) {
  CsvParser p(text, sep, trim);
  Rows out;
  std::vector<std::string> r;
  while (p.next(r)) out.push_back(r);
  return out;
}

TEST(Csv, QuotesLinesAndSeparators) {
  // Quoted fields hold separators, doubled quotes and line ends; CRLF and blank lines.
  EXPECT_EQ(all("a,b\r\n\r\n\"x,1\",\"say \"\"hi\"\"\"\n\"two\nlines\",\n"),
            (Rows{{"a", "b"}, {"x,1", "say \"hi\""}, {"two\nlines", ""}}));
  EXPECT_EQ(all("a;b c\n", ';'), (Rows{{"a", "b c"}}));
  // Lines are counted across quoted line ends: the record after starts on line 4.
  CsvParser p("h\n\"a\nb\"\nc\n");
  std::vector<std::string> r;
  ASSERT_TRUE(p.next(r));
  ASSERT_TRUE(p.next(r));
  ASSERT_TRUE(p.next(r));
  EXPECT_EQ(r, std::vector<std::string>{"c"});
  EXPECT_EQ(p.line(), 4u);
  EXPECT_THROW(all("a,\"open\n"), std::runtime_error);
}

TEST(Csv, TrimmedAsRemoteSourcesRead) {
  // Spaces around unquoted fields go, a quote after spaces opens a field whose spaces stay, a
  // line of spaces is blank, an empty quoted field is a record.
  EXPECT_EQ(all(" a , \" b \" \n   \n\"\"\n", ',', true), (Rows{{"a", " b "}, {""}}));
  EXPECT_EQ(all(" a , b \n"), (Rows{{" a ", " b "}}));  // untrimmed: as written
}

}  // namespace
}  // namespace akvo
