import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A response read off the socket.
struct TestResponse {
    let status: Int
    /// Lowercased names.
    let headers: [String: String]
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw TestHTTP.Failure("not a JSON object: \(text)") }
        return o
    }

    /// The `error` message of an API error.
    var error: String { ((try? json())?["error"] as? String) ?? "<no error field: \(text.prefix(200))>" }
}

/// A minimal blocking HTTP/1.1 client over a plain loopback socket (`Connection: close`, reads to EOF), so the
/// tests exercise the server exactly as curl would, with no client library between.
enum TestHTTP {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ m: String) { description = m }
    }

    static func send(_ method: String, port: Int, path: String, headers: [String: String] = [:], body: Data? = nil,
                     timeout: Double = 30) throws -> TestResponse {
        let raw = try exchange(port: port, request: request(method, port: port, path: path, headers: headers, body: body), timeout: timeout)
        return try parse(raw)
    }

    static func request(_ method: String, port: Int, path: String, headers: [String: String], body: Data?) -> Data {
        var h = headers
        if h.keys.first(where: { $0.lowercased() == "host" }) == nil { h["Host"] = "127.0.0.1:\(port)" }
        h["Connection"] = "close"
        if let body { h["Content-Length"] = String(body.count) }
        var head = "\(method) \(path) HTTP/1.1\r\n"
        for (k, v) in h.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        head += "\r\n"
        var data = Data(head.utf8)
        if let body { data.append(body) }
        return data
    }

    /// A connected loopback socket with send and receive timeouts (a safety net: a hung server fails the test).
    static func connect(port: Int, timeout: Double) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket() failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else {
            close(fd)
            throw Failure("connect to port \(port) failed (errno \(errno))")
        }
        return fd
    }

    /// Sends all of `data`, or stops where the server stopped reading (it may answer 413 and close first).
    @discardableResult
    static func sendAll(_ fd: Int32, _ data: Data) -> Int {
        var sent = 0
        data.withUnsafeBytes { (p: UnsafeRawBufferPointer) in
            while sent < p.count {
                let n = Glibc.send(fd, p.baseAddress! + sent, p.count - sent, Int32(MSG_NOSIGNAL))
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                sent += n
            }
        }
        return sent
    }

    /// Sends raw bytes and reads until the server closes the connection. The request is sent from another thread
    /// while this one reads, so an early answer (413 while the body is still coming) is read before any reset.
    static func exchange(port: Int, request: Data, timeout: Double) throws -> Data {
        let fd = try connect(port: port, timeout: timeout)
        defer { close(fd) }
        let sending = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            sendAll(fd, request)
            sending.signal()
        }
        defer {
            shutdown(fd, Int32(SHUT_RDWR))   // a sender still blocked on a server that stopped reading returns now
            sending.wait()
        }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { out.append(contentsOf: buffer[0..<n]); continue }
            if n == 0 { break }
            if errno == EINTR { continue }   // a child process (ffprobe) ended: not our socket's business
            if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure("timed out after \(timeout) s waiting for the response") }
            if errno == ECONNRESET, !out.isEmpty { break }
            throw Failure("recv failed (errno \(errno))")
        }
        return out
    }

    static func parse(_ raw: Data) throws -> TestResponse {
        let bytes = [UInt8](raw)
        guard let end = find([13, 10, 13, 10], in: bytes, from: 0) else { throw Failure("no response head in \(bytes.count) bytes") }
        let head = String(decoding: bytes[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure("bad status line \(head[0])") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        return TestResponse(status: status, headers: headers, body: Data(body))
    }

    static func dechunk(_ b: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while i < b.count {
            guard let lineEnd = find([13, 10], in: b, from: i) else { break }
            let sizeText = String(decoding: b[i..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw Failure("bad chunk size '\(sizeText)'") }
            if size == 0 { break }
            let start = lineEnd + 2
            guard start + size <= b.count else { out += b[start...]; break }   // cut off: keep what came
            out += b[start..<(start + size)]
            i = start + size + 2
        }
        return out
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0], Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}

/// A response read as it arrives (server-sent events): the raw bytes so far, headers and chunk framing included.
/// Each event is one chunk, so an event's text is never split by framing.
final class EventStream {
    private let fd: Int32
    private var raw = Data()
    private(set) var ended = false
    private var closed = false

    init(port: Int, path: String, headers: [String: String] = [:], timeout: Double = 60) throws {
        fd = try TestHTTP.connect(port: port, timeout: timeout)
        var h = headers
        h["Host"] = "127.0.0.1:\(port)"
        var head = "GET \(path) HTTP/1.1\r\n"
        for (k, v) in h.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
        TestHTTP.sendAll(fd, Data((head + "\r\n").utf8))
    }

    deinit { close() }

    var text: String { String(decoding: raw, as: UTF8.self) }

    /// The status code, once the head has arrived.
    var status: Int? {
        guard let line = text.components(separatedBy: "\r\n").first, line.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(line.split(separator: " ")[1])
    }

    /// Reads until `condition` holds for the text so far (true) or the stream ends first (false). The socket's
    /// receive timeout is only a safety net: it throws.
    @discardableResult
    func read(until condition: (String) -> Bool) throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !condition(text) {
            if ended { return false }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { raw.append(contentsOf: buffer[0..<n]); continue }
            if n == 0 { ended = true; continue }
            if errno == EINTR { continue }
            if errno == ECONNRESET { ended = true; continue }
            throw TestHTTP.Failure("the event stream stalled (errno \(errno)) after: \(text.suffix(300))")
        }
        return true
    }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }
}
