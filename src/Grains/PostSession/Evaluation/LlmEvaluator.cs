using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Chat;

namespace VoiceActors.PostSession;

/// <summary>Chat-completions endpoint for the LLM evaluator (section <c>PostSession:Llm</c>).</summary>
public sealed class LlmEvaluatorOptions
{
    public const string Section = "PostSession:Llm";

    /// <summary>Any OpenAI-compatible chat-completions base URL (OpenAI, Azure OpenAI v1, a local server).</summary>
    public Uri Endpoint { get; set; } = new("https://api.openai.com/v1");

    /// <summary>Never logged.</summary>
    public string? ApiKey { get; set; }

    public string Model { get; set; } = "gpt-4o-mini";

    /// <summary>Network timeout of one request; a slower answer counts as a failed attempt.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(45);
}

public sealed class LlmEvaluatorOptionsValidator(IOptions<EvaluationOptions> evaluation) : OptionsValidator<LlmEvaluatorOptions>
{
    protected override void Check(string? name, LlmEvaluatorOptions o, List<string> errors)
    {
        if (evaluation.Value.Evaluator != LlmEvaluator.EvaluatorName) return;
        if (!o.Endpoint.IsAbsoluteUri) errors.Add("PostSession:Llm:Endpoint must be an absolute URL.");
        if (string.IsNullOrWhiteSpace(o.ApiKey)) errors.Add("PostSession:Llm:ApiKey is required when PostSession:Evaluation:Evaluator is 'llm'.");
        if (string.IsNullOrWhiteSpace(o.Model)) errors.Add("PostSession:Llm:Model is required.");
        if (o.Timeout <= TimeSpan.Zero) errors.Add("PostSession:Llm:Timeout must be positive.");
    }
}

/// <summary>
/// Scores with a chat-completions model constrained by a strict JSON schema. The answer is still checked: it must be valid JSON
/// naming every rubric criterion once with a score on the scale; anything else is an <see cref="EvaluationFailedException"/>.
/// </summary>
public sealed class LlmEvaluator : IInterviewEvaluator
{
    public const string EvaluatorName = "llm";

    private static readonly BinaryData Schema = BinaryData.FromString("""
        {
          "type": "object",
          "properties": {
            "criteria": {
              "type": "array",
              "items": {
                "type": "object",
                "properties": {
                  "name": { "type": "string" },
                  "score": { "type": "number" },
                  "evidence": { "type": "array", "items": { "type": "string" } },
                  "rationale": { "type": "string" }
                },
                "required": ["name", "score", "evidence", "rationale"],
                "additionalProperties": false
              }
            }
          },
          "required": ["criteria"],
          "additionalProperties": false
        }
        """);

    private readonly ChatClient _client;

    public LlmEvaluator(IOptions<LlmEvaluatorOptions> options)
    {
        var o = options.Value;
        _client = new ChatClient(o.Model, new ApiKeyCredential(o.ApiKey ?? "unset"), new OpenAIClientOptions
        {
            Endpoint = o.Endpoint,
            NetworkTimeout = o.Timeout,
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // the evaluation runner retries, also on malformed answers
        });
    }

    public string Name => EvaluatorName;

    public async Task<IReadOnlyList<CriterionScore>> EvaluateAsync(EvaluationRequest request, CancellationToken cancellationToken)
    {
        ChatMessage[] messages =
        [
            new SystemChatMessage(
                "You score job interviews. For every rubric criterion give a score from 0 to the scale maximum, quote the candidate's " +
                "own words as evidence, and explain briefly. Use only the transcript; do not invent quotes."),
            new UserChatMessage(JsonSerializer.Serialize(new
            {
                scaleMax = request.Rubric.ScaleMax,
                criteria = request.Rubric.Criteria.Select(c => new { name = c.Name, description = c.Description }),
                transcript = request.Turns.Select(t => new { speaker = t.Speaker.ToString(), text = t.Text }),
            })),
        ];
        var completionOptions = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("interview_evaluation", Schema, jsonSchemaIsStrict: true),
            Temperature = 0,
        };
        ChatCompletion completion;
        try
        {
            completion = (await _client.CompleteChatAsync(messages, completionOptions, cancellationToken)).Value;
        }
        catch (ClientResultException e)
        {
            throw new EvaluationFailedException($"the model endpoint answered HTTP {e.Status}", retryable: e.Status is 0 or 408 or 429 or >= 500, e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new EvaluationFailedException("the model endpoint timed out", retryable: true, e);
        }
        var text = completion.Content.Count > 0 ? completion.Content[0].Text : null;
        if (string.IsNullOrWhiteSpace(text)) throw new EvaluationFailedException($"the model returned no content (finish reason {completion.FinishReason})");
        return Parse(text, request);
    }

    internal static IReadOnlyList<CriterionScore> Parse(string json, EvaluationRequest request)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (!doc.RootElement.TryGetProperty("criteria", out var criteria) || criteria.ValueKind != JsonValueKind.Array)
                throw new EvaluationFailedException("the model's JSON has no 'criteria' array");
            var byName = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
            foreach (var item in criteria.EnumerateArray())
                if (item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String) byName[n.GetString()!] = item;

            var scores = new List<CriterionScore>(request.Rubric.Criteria.Count);
            foreach (var c in request.Rubric.Criteria)
            {
                if (!byName.TryGetValue(c.Name, out var item)) throw new EvaluationFailedException($"the model did not score criterion '{c.Name}'");
                if (!item.TryGetProperty("score", out var s) || s.ValueKind != JsonValueKind.Number)
                    throw new EvaluationFailedException($"the model's score for '{c.Name}' is not a number");
                var score = s.GetDouble();
                if (score < 0 || score > request.Rubric.ScaleMax)
                    throw new EvaluationFailedException($"the model scored '{c.Name}' {score}, outside 0..{request.Rubric.ScaleMax}");
                var evidence = item.TryGetProperty("evidence", out var e) && e.ValueKind == JsonValueKind.Array
                    ? e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray()
                    : [];
                var rationale = item.TryGetProperty("rationale", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
                scores.Add(new CriterionScore(c.Name, c.Weight, score, evidence, rationale));
            }
            return scores;
        }
        catch (JsonException e)
        {
            throw new EvaluationFailedException($"the model returned malformed JSON ({e.Message})", retryable: true, e);
        }
    }
}
