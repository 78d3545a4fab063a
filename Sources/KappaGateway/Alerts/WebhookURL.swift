/// `http://host[:port][/path]` of a webhook. Plain HTTP only: put a TLS-terminating proxy in front of a remote
/// receiver (kappa has no HTTPS client of its own).
public struct WebhookURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var path: String

    public init(_ text: String) throws(SettingsError) {
        guard text.hasPrefix("http://") else {
            throw SettingsError("must be an http:// URL (for HTTPS, put a TLS-terminating proxy in front), not '\(text)'")
        }
        var rest = Substring(text.dropFirst("http://".count))
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        if rest.contains("@") { throw SettingsError("must not carry credentials in the URL") }
        var host = rest
        var port = 80
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()), (1...65_535).contains(parsed) else { throw SettingsError("has an invalid port") }
                port = parsed
            }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            guard let parsed = Int(host[host.index(after: colon)...]), (1...65_535).contains(parsed) else { throw SettingsError("has an invalid port") }
            port = parsed
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw SettingsError("names no host") }
        self.host = String(host)
        self.port = port
        self.path = path
    }

    public var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(path)" }
}
