import CLibPQ

extension PostgresConfiguration {
    /// Whether `conninfo` carries a password, as libpq itself reads it: `password = x` with spaces, quoted
    /// values, and percent-encoded `password` in URL parameters all count. Used to keep passwords off command
    /// lines (where `ps` shows them). Throws if libpq cannot parse it; the text is never put in the error.
    public static func carriesPassword(_ conninfo: String) throws(PostgresError) -> Bool {
        try !passwords(in: conninfo).isEmpty
    }

    /// Every password value libpq reads from `conninfo` (empty ones included), without ever putting libpq's
    /// parse error, which may quote the conninfo and so the password, into an error.
    static func passwords(in conninfo: String) throws(PostgresError) -> [String] {
        guard !conninfo.isEmpty else { return [] }
        var parseError: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &parseError) else {
            if let parseError { PQfreemem(parseError) }
            throw PostgresError(
                code: .invalidConfiguration,
                message: "the connection string or URL could not be parsed (its text is not shown: it may hold a password)"
            )
        }
        defer { PQconninfoFree(options) }
        var passwords: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                passwords.append(String(cString: value))
            }
            option += 1
        }
        return passwords
    }
}
