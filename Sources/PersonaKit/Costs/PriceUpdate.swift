import Foundation

/// `persona prices update`: fetches LiteLLM's price list, checks it, and keeps it in the Persona
/// home as `prices/litellm.json` beside a record of its day, source and SHA-256. A download that
/// fails or does not check out leaves the previous file as it was.
public enum PriceUpdate {
    public static let defaultURL = "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
    /// The file is about 3.5 MB; a source many times that is not a price list.
    static let sizeLimit = 64 << 20
    /// A real file prices hundreds of chat models of these providers.
    static let minimumModels = 20

    public struct Stored: Sendable, Equatable {
        public var file: String
        /// The local day it was fetched, YYYY-MM-DD.
        public var day: String
        public var sha256: String
        public var source: String
        public var models: Int
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    static func directory(home: String) -> String { home + "/prices" }
    static func file(home: String) -> String { directory(home: home) + "/litellm.json" }
    static func record(home: String) -> String { directory(home: home) + "/litellm.meta.json" }

    /// The stored update, when there is a complete one.
    public static func stored(home: String) -> Stored? {
        guard FileManager.default.fileExists(atPath: file(home: home)),
              let data = FileManager.default.contents(atPath: record(home: home)), let meta = try? JSON.parse(Array(data)),
              let day = meta["day"]?.string, let sha = meta["sha256"]?.string else { return nil }
        return Stored(file: file(home: home), day: day, sha256: sha, source: meta["source"]?.string ?? "",
                      models: meta["models"]?.int ?? 0)
    }

    /// Fetches `source` (a URL, or a path or `file://` URL), checks it, and stores it.
    public static func run(from source: String = defaultURL, home: String, now: Date = Date(),
                           transport: CurlTransport = .shared) async throws -> Stored {
        let bytes: [UInt8]
        if source.hasPrefix("http://") || source.hasPrefix("https://") {
            bytes = try await download(source, transport: transport)
        } else {
            let path = source.hasPrefix("file://") ? String(source.dropFirst("file://".count)) : source
            guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "\(path) cannot be read") }
            bytes = Array(data)
        }
        let day = localDay(now)
        var probe = PriceCatalog()
        let models: Int
        do {
            models = try probe.importLiteLLM(bytes, source: .update(day: day))
        } catch {
            throw Failure(description: "\(source) is not a usable price list (\(error)); the previous prices stay")
        }
        let known = Set(probe.all.map(\.key.provider))
        guard models >= minimumModels, known.contains("openai") || known.contains("anthropic") || known.contains("gemini") else {
            throw Failure(description: "\(source) prices only \(models) chat models of the providers Persona knows; "
                + "it does not look like LiteLLM's price list, and the previous prices stay")
        }
        let stored = Stored(file: file(home: home), day: day, sha256: SHA256.hex(bytes), source: source, models: models)
        try save(bytes, stored, home: home)
        return stored
    }

    static func download(_ url: String, transport: CurlTransport) async throws -> [UInt8] {
        var body: [UInt8] = []
        var status = 0
        do {
            for try await part in transport.stream(HTTPRequest(method: "GET", url: url), timeouts: TransportTimeouts(connect: 15, idle: 30)) {
                switch part {
                case .head(let head): status = head.status
                case .body(let chunk):
                    body += chunk
                    guard body.count <= sizeLimit else { throw Failure(description: "\(url) is larger than \(sizeLimit >> 20) MB") }
                }
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as TransportError {
            throw Failure(description: "\(url) could not be fetched: \(NetworkDiagnosis.explain(curlCode: error.curlCode, detail: error.message))")
        }
        guard status == 200 else { throw Failure(description: "\(url) answered HTTP \(status); the previous prices stay") }
        return body
    }

    /// Writes the file and its record each to a temporary name, then renames them into place,
    /// so that a reader sees the old pair or the new one.
    static func save(_ bytes: [UInt8], _ stored: Stored, home: String) throws {
        try FileManager.default.createDirectory(atPath: directory(home: home), withIntermediateDirectories: true)
        let meta = JSON.object(["day": .string(stored.day), "sha256": .string(stored.sha256), "source": .string(stored.source),
                                "models": .int(stored.models), "fetched": .string(ISO8601DateFormatter().string(from: Date()))])
        for (path, data) in [(file(home: home), Data(bytes)), (record(home: home), Data(meta.serializedBytes))] {
            let temporary = path + ".partial"
            do {
                try data.write(to: URL(fileURLWithPath: temporary))
                guard rename(temporary, path) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            } catch {
                try? FileManager.default.removeItem(atPath: temporary)
                throw Failure(description: "\(path) could not be written: \(error.localizedDescription)")
            }
        }
    }

    /// Today as YYYY-MM-DD in the local time zone, the day `costs daily` and the daily budget use.
    public static func localDay(_ date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }
}
