/// Where `kappa run` keeps its log: the embedded log in the data directory, or a NATS JetStream cluster.
public enum LogLocation: Sendable, Equatable {
    case embedded
    /// The cluster's servers as `nats://host:port` (the client fails over between them), and the copies
    /// JetStream keeps of every partition.
    case jetStream(servers: [String], replicas: Int)

    /// `nats://h1:4222,h2:4222,…` (each server may repeat the scheme); empty means the embedded log.
    /// Credentials in the URL are refused: they would show in `ps` and `kappa config show`.
    static func parse(_ text: String, replicas: Int) throws(SettingsError) -> LogLocation {
        let trimmed = text.trimmed
        if trimmed.isEmpty { return .embedded }
        let scheme = "nats://"
        guard trimmed.hasPrefix(scheme) else {
            throw SettingsError("must be nats://host:port[,host:port…] (or empty for the embedded log), not '\(text)'")
        }
        var servers: [String] = []
        for part in trimmed.dropFirst(scheme.count).split(separator: ",", omittingEmptySubsequences: false) {
            var server = String(part).trimmed
            if server.hasPrefix(scheme) { server = String(server.dropFirst(scheme.count)) }
            guard !server.contains("@") else {
                throw SettingsError("must not hold credentials (user@…): use log.nats.user with log.nats.password_file or KAPPA_NATS_PASSWORD, log.nats.token_file or log.nats.creds_file")
            }
            guard let colon = server.lastIndex(of: ":"), colon != server.startIndex,
                  let port = Int(server[server.index(after: colon)...]), (1...65_535).contains(port),
                  !server.contains("/")
            else {
                throw SettingsError("'\(part)' is not host:port (in nats://host:port[,host:port…])")
            }
            servers.append(scheme + server)
        }
        return .jetStream(servers: servers, replicas: replicas)
    }

    /// The replica count a nats:// log asks for (3 for the embedded log, where it means nothing).
    public var replicas: Int {
        if case .jetStream(_, let replicas) = self { replicas } else { 3 }
    }
}
