import Foundation

/// One result as a provider's file gives it, before it is checked and priced.
public struct RawBatchResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case succeeded(text: String, reasoning: String, usage: Usage)
        case errored(String)
        case expired
        case canceled
    }

    public var customID: String
    public var outcome: Outcome
}

/// Reads the result files of each batch API into `RawBatchResult`s. Results are matched by
/// `custom_id` (Gemini: `metadata.key`), never by position. A line that cannot be read (bad JSON,
/// no id, no body) is reported and skipped, and never costs the other lines.
public enum BatchResults {
    public struct Reading: Sendable {
        public var results: [RawBatchResult] = []
        public var problems: [String] = []
    }

    public static func read(_ api: BatchAPI, files: [[UInt8]]) -> Reading {
        var reading = Reading()
        for file in files {
            if api == .gemini {
                readGemini(file, into: &reading)
                continue
            }
            var lineNumber = 0
            var start = 0
            while start < file.count {
                let end = file[start...].firstIndex(of: 10) ?? file.count
                lineNumber += 1
                let line = Array(file[start..<end])
                start = end + 1
                guard line.contains(where: { $0 != 32 && $0 != 13 && $0 != 9 }) else { continue }
                do {
                    let parsed: Result<RawBatchResult, LineProblem> = try JSONTape.read(line) { root in
                        api == .openai ? openAILine(root) : anthropicLine(root)
                    }
                    switch parsed {
                    case .success(let result): reading.results.append(result)
                    case .failure(let problem): reading.problems.append("result line \(lineNumber): \(problem.reason)")
                    }
                } catch {
                    reading.problems.append("result line \(lineNumber): malformed JSON (\(error))")
                }
            }
        }
        return reading
    }

    struct LineProblem: Error {
        var reason: String
    }

    static func openAILine(_ root: JSONElement) -> Result<RawBatchResult, LineProblem> {
        guard let customID = root["custom_id"]?.string else { return .failure(LineProblem(reason: "no custom_id")) }
        if let error = root["error"], error.isObject {
            let code = error["code"]?.string ?? ""
            if code == "batch_expired" { return .success(RawBatchResult(customID: customID, outcome: .expired)) }
            if code == "batch_cancelled" { return .success(RawBatchResult(customID: customID, outcome: .canceled)) }
            return .success(RawBatchResult(customID: customID, outcome: .errored(error["message"]?.string ?? (code.isEmpty ? "failed" : code))))
        }
        guard let response = root["response"], response.isObject, let body = response["body"], body.isObject else {
            return .failure(LineProblem(reason: "\(customID) has no response body"))
        }
        let status = response["status_code"]?.int ?? 200
        guard (200..<300).contains(status), body["error"] == nil || body["error"]?.isNull == true else {
            let message = body["error"]?["message"]?.string ?? "HTTP \(status)"
            return .success(RawBatchResult(customID: customID, outcome: .errored("HTTP \(status): \(message)")))
        }
        let message = body["choices"]?[0]?["message"]
        let text = (message?["content"]?.string ?? "") + (message?["refusal"]?.string ?? "")
        let reasoning = message?["reasoning_content"]?.string ?? ""
        let usage = body["usage"].map(OpenAIAdapter.usage(from:)) ?? Usage()
        return .success(RawBatchResult(customID: customID, outcome: .succeeded(text: text, reasoning: reasoning, usage: usage)))
    }

    static func anthropicLine(_ root: JSONElement) -> Result<RawBatchResult, LineProblem> {
        guard let customID = root["custom_id"]?.string else { return .failure(LineProblem(reason: "no custom_id")) }
        guard let result = root["result"], let type = result["type"]?.string else {
            return .failure(LineProblem(reason: "\(customID) has no result"))
        }
        switch type {
        case "succeeded":
            guard let message = result["message"], message.isObject else { return .failure(LineProblem(reason: "\(customID) has no message")) }
            var text = ""
            var reasoning = ""
            for block in message["content"]?.array ?? [] {
                switch block["type"]?.string {
                case "text": text += block["text"]?.string ?? ""
                case "thinking": reasoning += block["thinking"]?.string ?? ""
                // A schema's answer is the forced tool's input.
                case "tool_use": text += block["input"]?.serialized ?? ""
                default: break
                }
            }
            let usage = message["usage"].map(AnthropicAdapter.usage(from:)) ?? Usage()
            return .success(RawBatchResult(customID: customID, outcome: .succeeded(text: text, reasoning: reasoning, usage: usage)))
        case "errored":
            let error = result["error"]
            let message = error?["error"]?["message"]?.string ?? error?["message"]?.string ?? "errored"
            return .success(RawBatchResult(customID: customID, outcome: .errored(message)))
        case "canceled": return .success(RawBatchResult(customID: customID, outcome: .canceled))
        case "expired": return .success(RawBatchResult(customID: customID, outcome: .expired))
        default: return .failure(LineProblem(reason: "\(customID) has an unknown result type '\(type)'"))
        }
    }

    /// Gemini's operation, with its responses inline under `response` (or the batch's `output`).
    static func readGemini(_ body: [UInt8], into reading: inout Reading) {
        do {
            try JSONTape.read(body) { root in
                let batch = root["metadata"] ?? root
                let container = root["response"]?["inlinedResponses"] ?? batch["output"]?["inlinedResponses"] ?? root["output"]?["inlinedResponses"]
                guard let entries = container?["inlinedResponses"]?.array else {
                    reading.problems.append("the finished batch holds no inlinedResponses")
                    return
                }
                for (index, entry) in entries.enumerated() {
                    guard let key = entry["metadata"]?["key"]?.string else {
                        reading.problems.append("response \(index + 1): no metadata.key, so it cannot be matched to its request")
                        continue
                    }
                    if let error = entry["error"], error.isObject {
                        reading.results.append(RawBatchResult(customID: key, outcome: .errored(error["message"]?.string ?? "errored")))
                        continue
                    }
                    guard let response = entry["response"], response.isObject else {
                        reading.problems.append("response \(index + 1) (\(key)): no response")
                        continue
                    }
                    var text = ""
                    var reasoning = ""
                    for part in response["candidates"]?[0]?["content"]?["parts"]?.array ?? [] {
                        guard let piece = part["text"]?.string else { continue }
                        if part["thought"]?.bool == true { reasoning += piece } else { text += piece }
                    }
                    let usage = response["usageMetadata"].map(GeminiAdapter.usage(from:)) ?? Usage()
                    reading.results.append(RawBatchResult(customID: key, outcome: .succeeded(text: text, reasoning: reasoning, usage: usage)))
                }
            }
        } catch {
            reading.problems.append("the batch's responses are malformed JSON (\(error))")
        }
    }
}
