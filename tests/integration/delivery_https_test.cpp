// HTTPS delivery (issue 10, item 2): webhookd verifies a receiver's certificate against
// --ca-file, refuses it without that CA with a clear certificate error, and refuses a
// certificate that is not for the URL's host. The receiver is HttpReceiver behind nginx
// (nginx-light) terminating TLS with a certificate from a CA made at test time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "delivery_support.hpp"
#include "webhookd/verify.hpp"

extern char** environ;

namespace webhookd::itest {
namespace {

// A CA and a server certificate it signed for 127.0.0.1 (and localhost), made with openssl.
bool MakeCertificates(const std::filesystem::path& dir) {
  const std::string script =
      "cd '" + dir.string() +
      "' && (printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' "
      "> server.ext"
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
      " -subj /CN=webhookd-test-ca -keyout ca.key -out ca.pem"
      " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost"
      " -keyout server.key -out server.csr"
      " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
      " -extfile server.ext -out server.pem) > openssl.log 2>&1";
  return std::system(script.c_str()) == 0;
}

std::filesystem::path NginxBinary() {
  for (const char* candidate : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (access(candidate, X_OK) == 0) return candidate;
  }
  return {};
}

bool Listening(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

// A port nothing listens on now (nginx takes its port from its configuration).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// nginx in the foreground, one process, on 127.0.0.1:PORT and 127.0.0.2:PORT with TLS,
// passing every request to 127.0.0.1:UPSTREAM.
class TlsProxy {
 public:
  TlsProxy(const std::filesystem::path& dir, int upstream) : dir_(dir) {
    const std::filesystem::path nginx = NginxBinary();
    if (nginx.empty()) return;
    for (int tries = 0; tries < 5 && pid_ <= 0; ++tries) Start(nginx, FreePort(), upstream);
  }
  ~TlsProxy() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }

 private:
  void Start(const std::filesystem::path& nginx, int port, int upstream) {
    const std::string d = dir_.string();
    std::ofstream(dir_ / "nginx.conf")
        << "daemon off; master_process off; worker_processes 1; pid " << d << "/nginx.pid;\n"
        << "error_log " << d << "/error.log warn;\nevents { worker_connections 64; }\n"
        << "http { access_log off; client_body_temp_path " << d << "/body; proxy_temp_path " << d
        << "/proxy; fastcgi_temp_path " << d << "/fastcgi; uwsgi_temp_path " << d
        << "/uwsgi; scgi_temp_path " << d << "/scgi;\n"
        << "  server { listen 127.0.0.1:" << port << " ssl; listen 127.0.0.2:" << port << " ssl;\n"
        << "    ssl_certificate " << d << "/server.pem; ssl_certificate_key " << d
        << "/server.key;\n"
        << "    location / { proxy_pass http://127.0.0.1:" << upstream
        << "; proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }\n";
    const std::string conf = d + "/nginx.conf";
    const std::string error_log = d + "/error.log";
    std::vector<std::string> args = {nginx.string(), "-p", d, "-c", conf, "-e", error_log};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return;
    for (int waited = 0; waited < 50; ++waited) {
      if (Listening(port)) {
        pid_ = pid;
        port_ = port;
        return;
      }
      if (waitpid(pid, nullptr, WNOHANG) == pid) return;  // exited: the port was taken
      std::this_thread::sleep_for(100ms);
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

class DeliveryHttpsTest : public DeliveryTest {
 protected:
  void SetUp() override {
    if (NginxBinary().empty()) GTEST_SKIP() << "needs nginx (the Debian package nginx-light)";
    ASSERT_TRUE(MakeCertificates(dir_.path())) << ReadFile(dir_.File("openssl.log"));
    proxy_ = std::make_unique<TlsProxy>(dir_.path(), receiver_.port());
    ASSERT_TRUE(proxy_->running()) << ReadFile(dir_.File("error.log"));
    DeliveryTest::SetUp();
  }

  std::vector<std::string> ExtraArgs() const override {
    std::vector<std::string> args = {"--request-timeout-ms", "3000"};
    if (trust_test_ca_) args.insert(args.end(), {"--ca-file", dir_.File("ca.pem").string()});
    return args;
  }

  std::string Url(std::string_view host, std::string_view path) const {
    return "https://" + std::string(host) + ":" + std::to_string(proxy_->port()) +
           std::string(path);
  }

  // The error text of the first attempt of a delivery to `url`, which must fail.
  std::string FirstAttemptError(HttpClient& admin, const std::string& url) {
    const std::string delivery_id = FirstAttemptThenPending(admin, url, json::array{0, 600});
    if (delivery_id.empty()) return "";
    const json::array attempts = Attempts(admin, delivery_id);
    if (attempts.empty() || !attempts[0].at("error").is_string()) return "";
    return std::string(attempts[0].at("error").as_string());
  }

  HttpReceiver receiver_;
  std::unique_ptr<TlsProxy> proxy_;
  bool trust_test_ca_ = true;
};

TEST_F(DeliveryHttpsTest, DeliversToAReceiverWhoseCertificateTheCaFileVouchesFor) {
  HttpClient admin = Admin();
  const PostedDelivery posted =
      OneDeliveryTo(admin, HookBody(1, "BookAppointment", Url("127.0.0.1", "/secure")));
  ASSERT_FALSE(HasFailure());
  const json::object delivery = WaitForStatus(admin, posted.delivery_id, "succeeded", 10s);
  EXPECT_EQ(delivery.at("status"), "succeeded");
  ASSERT_TRUE(receiver_.WaitFor(1, 5s));
  const ReceivedRequest request = receiver_.Requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/secure");
  const std::string secret(posted.config.at("secret").as_string());
  const VerifyResult verified =
      Verify(secret, request.Header("webhook-id"), request.Header("webhook-timestamp"),
             request.Header("webhook-signature"), request.body);
  EXPECT_TRUE(verified.ok()) << verified.message;
}

TEST_F(DeliveryHttpsTest, RefusesACertificateThatIsNotForTheUrlsHost) {
  HttpClient admin = Admin();
  const std::string error = FirstAttemptError(admin, Url("127.0.0.2", "/other-host"));
  EXPECT_TRUE(error.starts_with("SSL peer certificate or SSH remote key was not OK: ")) << error;
  EXPECT_NE(error.find("'127.0.0.2'"), std::string::npos) << error;
  EXPECT_EQ(receiver_.Count(), 0u);
}

TEST_F(DeliveryHttpsTest, WithoutTheCaFileTheCertificateIsRefusedSayingWhy) {
  trust_test_ca_ = false;
  RestartServer();
  HttpClient admin = Admin();
  EXPECT_EQ(FirstAttemptError(admin, Url("127.0.0.1", "/untrusted")),
            "SSL peer certificate or SSH remote key was not OK: SSL certificate problem: unable to "
            "get local issuer certificate");
  EXPECT_EQ(receiver_.Count(), 0u);
}

}  // namespace
}  // namespace webhookd::itest
