// The report as a reader sees it: a real `eqsim run` (configs/quick.yaml, cut
// down by --set) writes report.html, which headless Chromium (Debian's
// `chromium`) opens; every <img> must load (naturalWidth > 0) and no local file
// the page refers to may be missing. A copy of the report with one PNG deleted
// and another overwritten with junk must fail the same check, so the check can fail.
//
// Chromium: $EQSIM_CHROMIUM, else `chromium` on PATH. Without it the tests fail
// and say so (scripts/setup.sh installs it).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli_runner.hpp"

using namespace eqsim;
using testing::run_eqsim;
namespace fs = std::filesystem;

namespace {

// A page that loads the report in an iframe (same file:// origin with
// --allow-file-access-from-files) and, once the report and its images have
// loaded, writes one line per image and per missing local resource into #result.
const char* const kCheckerPage = R"html(<!DOCTYPE html>
<html><head><meta charset="utf-8"><script>
function missing(url) {
  try { const x = new XMLHttpRequest(); x.open('GET', url, false); x.send(); return false; }
  catch (e) { return true; }
}
function check(frame) {
  const out = [];
  try {
    const d = frame.contentDocument;
    out.push('title ' + d.title);
    out.push('images ' + d.images.length);
    for (const img of d.images)
      out.push((img.complete && img.naturalWidth > 0 ? 'loaded ' : 'broken ') + img.src);
    for (const el of d.querySelectorAll('[src],[href]')) {
      const url = (el.src || el.href).split('#')[0];
      if (url.startsWith('file:') && missing(url)) out.push('missing ' + url);
    }
  } catch (e) {
    out.push('error ' + e);
  }
  document.getElementById('result').textContent = out.join('\n');
}
</script></head><body><pre id="result">pending</pre>
<iframe src="@REPORT@" onload="check(this)"></iframe></body></html>
)html";

struct PageCheck {
  std::string title;
  int images = -1;
  std::vector<std::string> loaded, broken, missing, errors;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string find_chromium() {
  if (const char* env = std::getenv("EQSIM_CHROMIUM"); env && *env) {
    REQUIRE_MESSAGE(fs::exists(env), "$EQSIM_CHROMIUM = " << std::string(env) << " does not exist");
    return env;
  }
  std::stringstream path(std::getenv("PATH") ? std::getenv("PATH") : "");
  for (std::string dir; std::getline(path, dir, ':');)
    if (!dir.empty() && fs::exists(dir + "/chromium")) return dir + "/chromium";
  return "";
}

std::string file_url(const std::string& path) {
  std::string url = "file://";
  for (unsigned char c : fs::absolute(path).string()) {
    if (std::isalnum(c) || std::string("/-_.~").find(c) != std::string::npos) url += static_cast<char>(c);
    else url += "%" + std::string(1, "0123456789ABCDEF"[c >> 4]) + "0123456789ABCDEF"[c & 15];
  }
  return url;
}

std::string html_unescape(std::string s) {
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""},
                                 {"&amp;", "&"}})
    for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

// The lines the checker page wrote into <pre id="result"> of the dumped DOM.
PageCheck parse_result(const std::string& dom) {
  const std::string open = "<pre id=\"result\">";
  const size_t a = dom.find(open), b = dom.find("</pre>", a);
  REQUIRE_MESSAGE((a != std::string::npos && b != std::string::npos), "no #result in Chromium's DOM dump:\n" << dom);
  PageCheck c;
  std::stringstream lines(html_unescape(dom.substr(a + open.size(), b - a - open.size())));
  for (std::string line; std::getline(lines, line);) {
    const std::string word = line.substr(0, line.find(' ')), rest = line.substr(line.find(' ') + 1);
    if (word == "title") c.title = rest;
    else if (word == "images") c.images = std::stoi(rest);
    else if (word == "loaded") c.loaded.push_back(rest);
    else if (word == "broken") c.broken.push_back(rest);
    else if (word == "missing") c.missing.push_back(rest);
    else c.errors.push_back(line);  // "error ..." or a checker that never ran ("pending")
  }
  return c;
}

// Opens report_html in headless Chromium through the checker page (written into work_dir).
PageCheck check_in_chromium(const std::string& report_html, const std::string& work_dir) {
  const std::string chromium = find_chromium();
  REQUIRE_MESSAGE(!chromium.empty(), "chromium not found ($EQSIM_CHROMIUM or `chromium` on PATH): install Debian's "
                                     "chromium package (scripts/setup.sh does)");
  REQUIRE_MESSAGE(fs::exists(report_html), report_html << " does not exist");
  std::string page = kCheckerPage;
  page.replace(page.find("@REPORT@"), 8, file_url(report_html));
  const std::string checker = work_dir + "/checker.html", dom = work_dir + "/dom.html", log = work_dir + "/chromium.log";
  std::ofstream(checker) << page;
  const std::string cmd = "timeout 120 " + chromium +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --allow-file-access-from-files"
                          " --user-data-dir=" + work_dir + "/profile --virtual-time-budget=10000 --dump-dom " +
                          file_url(checker) + " > " + dom + " 2> " + log;
  const int status = std::system(cmd.c_str());
  REQUIRE_MESSAGE(status == 0, "chromium failed (" << cmd << "):\n" << read_text(log));
  return parse_result(read_text(dom));
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = 0; (p = text.find(what, p)) != std::string::npos; p += what.size()) ++n;
  return n;
}

// A small real report: quick.yaml with a few training steps and a small gradient check.
const std::string& generated_report() {
  static const std::string dir = [] {
    const std::string d = testing::fresh_dir("report_html") + "/run";
    const auto r = run_eqsim("run " + testing::source_path("configs/quick.yaml") + " --out " + d +
                             " --set train.steps=4 --set train.batch_size=32 --set train.checkpoint_every=2"
                             " --set sample.n=96 --set gradcheck.batch_size=4 --set 'gradcheck.betas=[1.0e-3, 1.0e-2]'"
                             " --set 'gradcheck.relax_steps=[5]'"
                             " --set 'mismatch.sigmas=[0, 0.05]' --set mismatch.seeds=1 --set mismatch.samples=32"
                             " --set mismatch.insitu_steps=2 --set mismatch.gradient_batch=8"
                             " --set 'energy.device_models=[device_models/generic-65nm.yaml]' --set energy.sensitivity=false"
                             " --set circuit_check.window_tau=2");
    REQUIRE_MESSAGE(r.exit_code == 0, "eqsim run failed:\n" << r.output);
    return d;
  }();
  return dir;
}

std::string report_lines(const PageCheck& c) {
  std::string s;
  for (const auto* list : {&c.broken, &c.missing, &c.errors})
    for (const auto& l : *list) s += l + "\n";
  return s;
}

}  // namespace

TEST_CASE("every figure of a generated report.html loads in headless Chromium") {
  const std::string dir = generated_report();
  const std::string html = read_text(dir + "/report.html");
  const PageCheck c = check_in_chromium(dir + "/report.html", fs::path(dir).parent_path().string());
  INFO(report_lines(c));
  CHECK(c.errors.empty());
  CHECK(c.title.find("eqsim report") != std::string::npos);
  CHECK(c.images > 0);
  CHECK(c.images == static_cast<int>(count(html, "<img ")));  // Chromium saw every <img> of the file
  CHECK(c.loaded.size() == static_cast<size_t>(c.images));
  CHECK(c.broken.empty());
  CHECK(c.missing.empty());
  CHECK(count(html, "is missing:") == 0);  // the report's note for a figure gnuplot could not draw
}

// The first two <img src="..."> of a report.html.
std::vector<std::string> first_two_images(const std::string& html) {
  std::vector<std::string> srcs;
  const std::string tag = "<img src=\"";
  for (size_t p = html.find(tag); p != std::string::npos && srcs.size() < 2; p = html.find(tag, p + 1))
    srcs.push_back(html.substr(p + tag.size(), html.find('"', p + tag.size()) - p - tag.size()));
  REQUIRE(srcs.size() == 2);
  return srcs;
}

TEST_CASE("a report with a deleted and a corrupt figure fails the Chromium check") {
  const std::string dir = testing::fresh_dir("report_html_broken") + "/run";
  fs::copy(generated_report(), dir, fs::copy_options::recursive);
  const auto pngs = first_two_images(read_text(dir + "/report.html"));
  REQUIRE(fs::remove(dir + "/" + pngs[0]));
  std::ofstream(dir + "/" + pngs[1]) << "not a PNG";
  const PageCheck c = check_in_chromium(dir + "/report.html", fs::path(dir).parent_path().string());
  INFO(report_lines(c));
  CHECK(c.errors.empty());
  CHECK(c.broken == std::vector<std::string>{file_url(dir + "/" + pngs[0]), file_url(dir + "/" + pngs[1])});
  CHECK(c.missing == std::vector<std::string>{file_url(dir + "/" + pngs[0])});
  CHECK(c.loaded.size() + 2 == static_cast<size_t>(c.images));
}

// An exploration's report (the committed demo's, and one generated at test size) in
// Chromium: every figure loads, the answer comes first.
TEST_CASE("exploration reports load in headless Chromium: the committed demo's and a generated one") {
  const std::string work = testing::fresh_dir("report_html_explore");
  const std::string generated = work + "/explore";
  const auto r = run_eqsim(testing::small_explore_args(generated));
  REQUIRE_MESSAGE(r.exit_code == 0, "eqsim explore failed:\n" << r.output);
  for (const std::string& report : {testing::source_path("reports/explore_demo/report.html"), generated + "/report.html"}) {
    CAPTURE(report);
    const std::string html = read_text(report);
    REQUIRE(!html.empty());
    const PageCheck c = check_in_chromium(report, work);
    INFO(report_lines(c));
    CHECK(c.errors.empty());
    CHECK(c.images > 0);
    CHECK(c.images == static_cast<int>(count(html, "<img ")));
    CHECK(c.loaded.size() == static_cast<size_t>(c.images));
    CHECK(c.broken.empty());
    CHECK(c.missing.empty());
    const size_t answer = html.find("The answer"), points = html.find(">Points<");
    CHECK(answer != std::string::npos);
    CHECK(answer < points);  // the answer opens the report, before the tables
  }
}
