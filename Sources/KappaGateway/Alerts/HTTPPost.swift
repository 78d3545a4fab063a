#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One blocking HTTP/1.1 POST over a fresh TCP connection (`Connection: close`): enough for a webhook that
/// gets a few alerts a minute, without an HTTP client library. Call it only from a dedicated thread.
enum HTTPPost {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends `body` and returns the response's status code; throws if no response came.
    static func post(_ body: [UInt8], to url: WebhookURL, contentType: String, timeoutSeconds: Int) throws(Failure) -> Int {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var found: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(url.host, String(url.port), &hints, &found)
        guard resolved == 0, let first = found else {
            throw Failure(description: "cannot resolve \(url.host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(found) }
        var lastProblem = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard descriptor >= 0 else { lastProblem = String(cString: strerror(errno)); continue }
            defer { close(descriptor) }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            // On Linux the send timeout bounds connect(2) too.
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
                lastProblem = "connect to \(url.host):\(url.port): \(String(cString: strerror(errno)))"
                continue
            }
            let hostHeader = url.host.contains(":") ? "[\(url.host)]:\(url.port)" : "\(url.host):\(url.port)"
            let head = "POST \(url.path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: kappa\r\nContent-Type: \(contentType)\r\n"
                + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            try write(Array(head.utf8) + body, to: descriptor)
            return try readStatus(from: descriptor)
        }
        throw Failure(description: lastProblem)
    }

    private static func write(_ bytes: [UInt8], to descriptor: Int32) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "sending: \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Reads until the status line is complete: `HTTP/1.1 200 OK`.
    private static func readStatus(from descriptor: Int32) throws(Failure) -> Int {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !received.contains(UInt8(ascii: "\n")) && received.count < 8192 {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "reading the response: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            received += buffer[0..<count]
        }
        let line = String(decoding: received.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw Failure(description: "no HTTP response (got '\(line.prefix(80))')")
        }
        return status
    }
}
