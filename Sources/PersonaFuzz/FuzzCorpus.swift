import Foundation
import MockProvider
import PersonaKit

/// The inputs mutation starts from: recorded provider responses, the mock's streams in every wire
/// format, and sample config, persona and price-list files.
public struct FuzzCorpus: Sendable {
    public var seeds: [FuzzTarget: [[UInt8]]]
    public var recordedCount: Int

    /// Reads `wire/<provider>/*.txt` beside their `.meta.json` when the folder is there.
    public static func load(wire: String) -> FuzzCorpus {
        var seeds: [FuzzTarget: [[UInt8]]] = [:]
        var recorded = 0
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: wire)) ?? []
        for folder in folders {
            guard let target = FuzzTarget.stream(for: folder) else { continue }
            let directory = URL(fileURLWithPath: wire).appendingPathComponent(folder)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where name.hasSuffix(".txt") {
                guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else { continue }
                seeds[target, default: []].append(Array(data))
                recorded += 1
            }
        }
        let deltas = MockServer.generatedDeltas(6)
        for (target, format) in [(FuzzTarget.openaiStream, MockWireFormat.openai), (.anthropicStream, .anthropic),
                                 (.geminiStream, .gemini), (.ollamaStream, .ollama)] {
            seeds[target, default: []].append(MockServer.streamBody(format, model: "seed", deltas: deltas))
        }
        seeds[.anthropicStream, default: []].append(MockServer.streamBody(.anthropic, model: "seed", deltas: [#"{"mood": "#, #""calm", "n": 1}"#],
                                                                          answerTool: FuzzTarget.answerTool))
        seeds[.config] = samples.config.map { Array($0.utf8) }
        seeds[.persona] = samples.persona.map { Array($0.utf8) }
        seeds[.priceList] = samples.priceList.map { Array($0.utf8) }
        return FuzzCorpus(seeds: seeds, recordedCount: recorded)
    }

    static let samples = (
        config: ["""
            default_model: anthropic:claude-sonnet-5-5
            default_personas: [skeptic, optimist]
            providers:
              openai: { api_key_env: OPENAI_API_KEY, rpm: 500, tpm: 30000 }
              corp: { type: openai, base_url: https://llm.example/v1, headers: { X-Team: r } }
            failover_chains: { default: [anthropic:claude-sonnet-5-5, openai:gpt-6-sol] }
            retry: { max_retries: 3, base_delay: 1.0, max_delay: 60 }
            timeouts: { connect: 10, stream_idle: 30, turn: 600 }
            budget: { session_usd: 1.00, daily_usd: 10.00, warn_at: 0.8 }
            prices: { "openai:gpt-5": { input: 1.25, cached_input: 0.125, output: 10 } }
            prompt_cache: auto
            limits: { event_mib: 16 }
            """],
        persona: ["""
            ---
            name: The Skeptic
            color: red
            model: anthropic:claude-sonnet-5-5
            fallback: [openai:gpt-6-luna]
            temperature: 0.7
            max_tokens: 800
            card: Questions every claim.
            answer_pattern: '\\\\boxed\\{(.+?)\\}'
            ---
            You are the skeptic.
            """, """
            ---
            name: The Analyst
            schema:
              title: Assessment
              type: object
              properties:
                message: { type: string, minLength: 1 }
                confidence: { type: number, minimum: 0, maximum: 1 }
                tags: { type: array, items: { enum: [a, b] }, maxItems: 3 }
                either: { anyOf: [{ type: string }, { type: 'null' }] }
              required: [message, confidence]
              additionalProperties: false
            schema_repair: 2
            ---
            You analyse.
            """],
        priceList: ["""
            {"gpt-x": {"litellm_provider": "openai", "mode": "chat", "max_input_tokens": 272000, "input_cost_per_token": 1.25e-06,
             "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-07,
             "input_cost_per_token_above_272k_tokens": 2.5e-06, "output_cost_per_token_above_272k_tokens": 1.5e-05,
             "deprecation_date": "2026-12-11", "successor_model": "gpt-y"},
             "claude-x": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
             "cache_creation_input_token_cost_above_1hr": 6e-06}}
            """]
    )
}
