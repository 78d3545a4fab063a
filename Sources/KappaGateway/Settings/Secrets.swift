import Foundation

/// Passwords read from files: the first line, so a trailing newline from `echo` is not part of it.
enum Secrets {
    static func firstLine(of path: String, _ setting: Setting, _ value: SettingValue) throws(SettingsError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SettingsError(setting, value, "cannot read the password file \(path)")
        }
        return text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }
}
