// A WebSocket++ (0.8.x, Boost.Asio) peer for wspp's interop tests: one binary, two modes.
//
//   wspp_peer server                      echo server on 127.0.0.1, port picked by the OS
//   wspp_peer client URL [--protocols a,b] STEP...
//
// Both print one JSON object per line on stdout; strings are hex-encoded UTF-8 so that
// nothing needs escaping. The script steps, the in-band commands and the generated
// payloads are the same as the Python peer's and the TypeScript drivers' (see
// test/interop/protocol.ts, which is the reference).
//
// Server: messages are echoed with their opcode, except text messages starting "cmd:":
//   cmd:gen <text|binary> <size> <frags>   send a generated payload in <frags> fragments
//   cmd:ping <hex>                         ping; once the pong arrives, send "pong:<hex>"
//   cmd:close <code> <hex>                 close (1005: without a status code)
// Events: listening{port}, open{path,subprotocol,extensions}, close{path,code,reason,localCode,localReason}.
//
// Client steps (one argv word each): "echo <text|binary|random> <size> <frags>", "echotext <hex>",
// "ping <hex>", "request <hex>", "send <hex>", "close <code|none> <hex>", "awaitclose".
// Events: open{subprotocol,extensions}, step{i,op,ok,detail,text}, closed{code,reason,localCode,localReason},
// fail{message}. "extensions" is the Sec-WebSocket-Extensions answer of the handshake.
//
// Built with -DWSPP_PEER_DEFLATE (and -lz), both endpoints use configs whose
// permessage_deflate_type is permessage_deflate::enabled: the server accepts offers (its
// defaults: context takeover, 15-bit windows, any window asked for), the client offers
// "permessage-deflate; client_no_context_takeover; client_max_window_bits" (fixed in
// WebSocket++ 0.8). Whole messages are sent compressed (connection::send sets the flag);
// fragments are sent uncompressed: WebSocket++ compresses each frame on its own and would
// set RSV1 on continuation frames.

#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>
#ifdef WSPP_PEER_DEFLATE
#include <websocketpp/extensions/permessage_deflate/enabled.hpp>
#endif

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

#ifdef WSPP_PEER_DEFLATE
// The stock configs with permessage_deflate::enabled in place of disabled.
struct deflate_server_config : public websocketpp::config::asio {
    typedef deflate_server_config type;
    struct permessage_deflate_config {};
    typedef websocketpp::extensions::permessage_deflate::enabled<permessage_deflate_config> permessage_deflate_type;
};
struct deflate_client_config : public websocketpp::config::asio_client {
    typedef deflate_client_config type;
    struct permessage_deflate_config {};
    typedef websocketpp::extensions::permessage_deflate::enabled<permessage_deflate_config> permessage_deflate_type;
};
typedef websocketpp::server<deflate_server_config> server_t;
typedef websocketpp::client<deflate_client_config> client_t;
#else
typedef websocketpp::server<websocketpp::config::asio> server_t;
typedef websocketpp::client<websocketpp::config::asio_client> client_t;
#endif
namespace opcode = websocketpp::frame::opcode;

const std::size_t kMaxMessage = 64u << 20;

std::string hex(std::string const& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() * 2);
    for (unsigned char c : s) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

std::string unhex(std::string const& h) {
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

void emit(std::string const& json) {
    std::cout << json << std::endl;  // flushes
}

std::vector<std::string> words(std::string const& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

// The generated payloads: text repeats "aé€😀" (1+2+3+4 bytes) then pads with 'x';
// binary byte i is (i*31+7) & 0xff; random is xorshift32 from 0x9e3779b9, each state
// written as 4 bytes little-endian, cut to size.
std::string generate(std::string const& kind, std::size_t size) {
    std::string out;
    out.reserve(size + 4);
    if (kind == "random") {
        uint32_t x = 0x9e3779b9u;
        while (out.size() < size) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((x >> (8 * b)) & 0xff));
        }
        out.resize(size);
    } else if (kind == "text") {
        static const std::string unit = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
        for (std::size_t i = 0; i < size / 10; ++i) out += unit;
        out.append(size % 10, 'x');
    } else {
        for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>((i * 31 + 7) & 0xff));
    }
    return out;
}

// Fragment k of n covers [k*size/n, (k+1)*size/n), moved back to a code point boundary for
// text (WebSocket++ validates each text fragment it sends on its own).
std::vector<std::string> split(std::string const& payload, std::size_t n, bool text) {
    std::vector<std::size_t> cuts;
    cuts.push_back(0);
    for (std::size_t k = 1; k < n; ++k) {
        std::size_t at = payload.size() * k / n;
        while (text && at > cuts.back() && at < payload.size() && (static_cast<unsigned char>(payload[at]) & 0xc0) == 0x80) --at;
        if (at < cuts.back()) at = cuts.back();
        cuts.push_back(at);
    }
    cuts.push_back(payload.size());
    std::vector<std::string> out;
    for (std::size_t k = 0; k < n; ++k) out.push_back(payload.substr(cuts[k], cuts[k + 1] - cuts[k]));
    return out;
}

template <typename Endpoint>
void send_fragmented(Endpoint& ep, websocketpp::connection_hdl hdl, std::string const& kind, std::string const& payload, std::size_t frags) {
    auto con = ep.get_con_from_hdl(hdl);
    opcode::value op = kind == "text" ? opcode::text : opcode::binary;
    if (frags <= 1) {
        con->send(payload, op);
        return;
    }
    std::vector<std::string> pieces = split(payload, frags, kind == "text");
    for (std::size_t k = 0; k < pieces.size(); ++k) {
        auto msg = con->get_message(k == 0 ? op : opcode::continuation, pieces[k].size());
        msg->set_payload(pieces[k]);
        msg->set_fin(k + 1 == pieces.size());
        auto ec = con->send(msg);
        if (ec) emit("{\"event\":\"error\",\"message\":\"" + hex(ec.message()) + "\"}");
    }
}

// --- server --------------------------------------------------------------------------

int run_server() {
    server_t s;
    s.clear_access_channels(websocketpp::log::alevel::all);
    s.clear_error_channels(websocketpp::log::elevel::all);
    s.init_asio();
    s.set_reuse_addr(true);
    s.set_max_message_size(kMaxMessage);
    s.set_listen_backlog(1024);

    s.set_validate_handler([&s](websocketpp::connection_hdl hdl) {
        auto con = s.get_con_from_hdl(hdl);
        for (auto const& p : con->get_requested_subprotocols()) {
            if (p == "chat.v2") con->select_subprotocol(p);
        }
        return true;
    });
    s.set_open_handler([&s](websocketpp::connection_hdl hdl) {
        auto con = s.get_con_from_hdl(hdl);
        emit("{\"event\":\"open\",\"path\":\"" + hex(con->get_resource()) + "\",\"subprotocol\":\"" + hex(con->get_subprotocol()) +
             "\",\"extensions\":\"" + hex(con->get_response_header("Sec-WebSocket-Extensions")) + "\"}");
    });
    s.set_message_handler([&s](websocketpp::connection_hdl hdl, server_t::message_ptr msg) {
        std::string const& payload = msg->get_payload();
        if (msg->get_opcode() == opcode::text && payload.compare(0, 4, "cmd:") == 0) {
            std::vector<std::string> w = words(payload.substr(4));
            websocketpp::lib::error_code ec;
            if (w.size() == 4 && w[0] == "gen") {
                send_fragmented(s, hdl, w[1], generate(w[1], std::stoul(w[2])), std::stoul(w[3]));
            } else if (w.size() >= 1 && w[0] == "ping") {
                s.ping(hdl, w.size() > 1 ? unhex(w[1]) : std::string(), ec);
            } else if (w.size() >= 2 && w[0] == "close") {
                int code = std::stoi(w[1]);
                s.close(hdl, static_cast<websocketpp::close::status::value>(code), w.size() > 2 ? unhex(w[2]) : std::string(), ec);
            }
            if (ec) emit("{\"event\":\"error\",\"message\":\"" + hex(ec.message()) + "\"}");
            return;
        }
        websocketpp::lib::error_code ec;
        s.send(hdl, payload, msg->get_opcode(), ec);
    });
    s.set_pong_handler([&s](websocketpp::connection_hdl hdl, std::string payload) {
        websocketpp::lib::error_code ec;
        s.send(hdl, "pong:" + hex(payload), opcode::text, ec);
    });
    s.set_close_handler([&s](websocketpp::connection_hdl hdl) {
        auto con = s.get_con_from_hdl(hdl);
        emit("{\"event\":\"close\",\"path\":\"" + hex(con->get_resource()) + "\",\"code\":" + std::to_string(con->get_remote_close_code()) +
             ",\"reason\":\"" + hex(con->get_remote_close_reason()) + "\",\"localCode\":" + std::to_string(con->get_local_close_code()) +
             ",\"localReason\":\"" + hex(con->get_local_close_reason()) + "\"}");
    });

    websocketpp::lib::asio::ip::tcp::endpoint ep(websocketpp::lib::asio::ip::address::from_string("127.0.0.1"), 0);
    s.listen(ep);
    websocketpp::lib::asio::error_code ec;
    auto local = s.get_local_endpoint(ec);
    if (ec) {
        std::cerr << "get_local_endpoint: " << ec.message() << std::endl;
        return 1;
    }
    s.start_accept();
    emit("{\"event\":\"listening\",\"port\":" + std::to_string(local.port()) + "}");
    s.run();
    return 0;
}

// --- client --------------------------------------------------------------------------

struct ClientRun {
    client_t c;
    websocketpp::connection_hdl hdl;
    std::vector<std::vector<std::string>> steps;
    std::size_t current = 0;
    bool waiting = false;
    std::string expected;
    opcode::value expected_op = opcode::text;
    bool closing = false;

    std::vector<std::string>* step() { return current < steps.size() ? &steps[current] : nullptr; }

    void result(bool ok, std::string const& detail, std::string const& text = "") {
        auto* st = step();
        emit("{\"event\":\"step\",\"i\":" + std::to_string(current) + ",\"op\":\"" + (st ? (*st)[0] : std::string("?")) + "\",\"ok\":" +
             (ok ? "true" : "false") + ",\"detail\":\"" + hex(detail) + "\",\"text\":\"" + hex(text) + "\"}");
        waiting = false;
        ++current;
    }

    void next() {
        while (!waiting && !closing) {
            auto* st = step();
            websocketpp::lib::error_code ec;
            if (st == nullptr) {
                closing = true;
                c.close(hdl, websocketpp::close::status::normal, "", ec);
                return;
            }
            std::vector<std::string>& w = *st;
            std::string const& op = w[0];
            if (op == "echo") {
                expected = generate(w[1], std::stoul(w[2]));
                expected_op = w[1] == "text" ? opcode::text : opcode::binary;
                waiting = true;
                send_fragmented(c, hdl, w[1], expected, std::stoul(w[3]));
            } else if (op == "echotext") {
                expected = unhex(w.size() > 1 ? w[1] : "");
                expected_op = opcode::text;
                waiting = true;
                c.send(hdl, expected, opcode::text, ec);
            } else if (op == "ping") {
                expected = unhex(w.size() > 1 ? w[1] : "");
                waiting = true;
                c.ping(hdl, expected, ec);
            } else if (op == "request") {
                waiting = true;
                c.send(hdl, unhex(w.size() > 1 ? w[1] : ""), opcode::text, ec);
            } else if (op == "send") {
                c.send(hdl, unhex(w.size() > 1 ? w[1] : ""), opcode::text, ec);
                if (!ec) result(true, "");
            } else if (op == "close") {
                waiting = true;
                closing = true;
                auto code = w[1] == "none" ? websocketpp::close::status::no_status : static_cast<websocketpp::close::status::value>(std::stoi(w[1]));
                c.close(hdl, code, unhex(w.size() > 2 ? w[2] : ""), ec);
            } else if (op == "awaitclose") {
                waiting = true;
                closing = true;
            } else {
                result(false, "unknown step " + op);
            }
            if (ec) result(false, ec.message());
        }
    }

    void on_message(client_t::message_ptr msg) {
        auto* st = step();
        if (!waiting || st == nullptr) {
            emit("{\"event\":\"unexpected\",\"text\":\"" + hex(msg->get_payload().substr(0, 64)) + "\"}");
            return;
        }
        std::string const& op = (*st)[0];
        if (op == "echo" || op == "echotext") {
            bool ok = msg->get_opcode() == expected_op && msg->get_payload() == expected;
            result(ok, ok ? "" : "echo differs: opcode " + std::to_string(msg->get_opcode()) + ", " + std::to_string(msg->get_payload().size()) + " bytes");
            expected.clear();
        } else if (op == "request") {
            result(true, "", msg->get_payload());
        } else {
            emit("{\"event\":\"unexpected\",\"text\":\"" + hex(msg->get_payload().substr(0, 64)) + "\"}");
            return;
        }
        next();
    }

    void on_pong(std::string const& payload) {
        auto* st = step();
        if (waiting && st != nullptr && (*st)[0] == "ping") {
            result(payload == expected, payload == expected ? "" : "pong payload differs");
            next();
        }
    }

    void on_closed() {
        auto con = c.get_con_from_hdl(hdl);
        auto* st = step();
        if (waiting && st != nullptr && ((*st)[0] == "close" || (*st)[0] == "awaitclose")) result(true, "");
        emit("{\"event\":\"closed\",\"code\":" + std::to_string(con->get_remote_close_code()) + ",\"reason\":\"" + hex(con->get_remote_close_reason()) +
             "\",\"localCode\":" + std::to_string(con->get_local_close_code()) + ",\"localReason\":\"" + hex(con->get_local_close_reason()) + "\"}");
    }
};

int run_client(std::string const& url, std::vector<std::string> const& protocols, std::vector<std::string> const& steps) {
    ClientRun run;
    for (auto const& s : steps) run.steps.push_back(words(s));
    client_t& c = run.c;
    c.clear_access_channels(websocketpp::log::alevel::all);
    c.clear_error_channels(websocketpp::log::elevel::all);
    c.init_asio();
    c.set_max_message_size(kMaxMessage);
    c.set_open_handler([&run](websocketpp::connection_hdl hdl) {
        auto con = run.c.get_con_from_hdl(hdl);
        // WebSocket++ 0.8's client leaves get_subprotocol() empty: read the response header.
        emit("{\"event\":\"open\",\"subprotocol\":\"" + hex(con->get_response_header("Sec-WebSocket-Protocol")) + "\",\"extensions\":\"" +
             hex(con->get_response_header("Sec-WebSocket-Extensions")) + "\"}");
        run.next();
    });
    c.set_message_handler([&run](websocketpp::connection_hdl, client_t::message_ptr msg) { run.on_message(msg); });
    c.set_pong_handler([&run](websocketpp::connection_hdl, std::string payload) { run.on_pong(payload); });
    c.set_pong_timeout_handler([&run](websocketpp::connection_hdl, std::string) {
        run.result(false, "pong timeout");
        run.next();
    });
    c.set_close_handler([&run](websocketpp::connection_hdl) { run.on_closed(); });
    c.set_fail_handler([&run](websocketpp::connection_hdl hdl) {
        auto con = run.c.get_con_from_hdl(hdl);
        emit("{\"event\":\"fail\",\"message\":\"" + hex(con->get_ec().message()) + "\"}");
    });

    websocketpp::lib::error_code ec;
    auto con = c.get_connection(url, ec);
    if (ec) {
        emit("{\"event\":\"fail\",\"message\":\"" + hex(ec.message()) + "\"}");
        return 1;
    }
    for (auto const& p : protocols) con->add_subprotocol(p, ec);
    run.hdl = con->get_handle();
    c.connect(con);
    c.run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() >= 1 && args[0] == "server") return run_server();
    if (args.size() >= 2 && args[0] == "client") {
        std::vector<std::string> protocols;
        std::vector<std::string> steps;
        for (std::size_t i = 2; i < args.size(); ++i) {
            if (args[i] == "--protocols" && i + 1 < args.size()) {
                std::string list = args[++i];
                std::stringstream in(list);
                std::string p;
                while (std::getline(in, p, ',')) if (!p.empty()) protocols.push_back(p);
            } else {
                steps.push_back(args[i]);
            }
        }
        return run_client(args[1], protocols, steps);
    }
    std::cerr << "usage: wspp_peer server | wspp_peer client URL [--protocols a,b] STEP..." << std::endl;
    return 2;
}
