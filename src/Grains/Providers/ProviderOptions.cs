using Microsoft.Extensions.Options;

namespace VoiceActors.Providers;

/// <summary>
/// An OpenAI-Realtime-compatible provider (named options: <c>Providers:OpenAI</c>, <c>Providers:Grok</c>).
/// The key is read from configuration (an environment variable in production) and never logged.
/// </summary>
public sealed class RealtimeProviderOptions
{
    /// <summary>Base URL of the API; the client connects to its <c>/realtime</c> WebSocket.</summary>
    public Uri? Endpoint { get; set; }

    public string Model { get; set; } = "";

    public string? ApiKey { get; set; }

    public string? Voice { get; set; }

    /// <summary>How many frames may wait for the provider's socket before the oldest is dropped (25 = half a second).</summary>
    public int SendQueueFrames { get; set; } = 25;

    public static RealtimeProviderOptions OpenAIDefaults() => new() { Endpoint = new Uri("https://api.openai.com/v1"), Model = "gpt-realtime", Voice = "marin" };

    public static RealtimeProviderOptions GrokDefaults() => new() { Endpoint = new Uri("https://api.x.ai/v1"), Model = "grok-voice-latest", Voice = "Ara" };
}

public sealed class RealtimeProviderOptionsValidator : OptionsValidator<RealtimeProviderOptions>
{
    protected override void Check(string? name, RealtimeProviderOptions o, List<string> errors)
    {
        if (o.Endpoint is null || !o.Endpoint.IsAbsoluteUri) errors.Add($"Providers:{name}:Endpoint must be an absolute URL (the provider's API base).");
        if (string.IsNullOrWhiteSpace(o.Model)) errors.Add($"Providers:{name}:Model must name the realtime model.");
        if (o.SendQueueFrames is < 1 or > 500) errors.Add($"Providers:{name}:SendQueueFrames must be 1..500: the queue bounds memory per session.");
    }
}

/// <summary>The simulated provider (<c>Providers:Simulated</c>, and <c>Providers:SimulatedBackup</c> for a second one to fail over to).</summary>
public sealed class SimulatedProviderOptions
{
    /// <summary>Every random choice (latency jitter, injected faults, what the agent says) comes from this seed and the session id.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>From the end of the candidate's speech to the first audio of the answer.</summary>
    public TimeSpan ResponseLatency { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Uniform jitter added to <see cref="ResponseLatency"/>.</summary>
    public TimeSpan ResponseJitter { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>How long each answer speaks (the shortest answer when <see cref="ResponseDurationJitter"/> is set).</summary>
    public TimeSpan ResponseDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Uniform extra length of each answer, drawn from the seeded generator: 5 s + 10 s of jitter gives answers of 5–15 s.</summary>
    public TimeSpan ResponseDurationJitter { get; set; } = TimeSpan.Zero;

    /// <summary>Mean absolute PCM16 level that counts as speech.</summary>
    public int SpeechLevel { get; set; } = 500;

    /// <summary>Quiet time that ends the candidate's utterance.</summary>
    public TimeSpan EndOfSpeechSilence { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>Speech shorter than this is noise, not an utterance.</summary>
    public TimeSpan MinSpeech { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Whether the candidate's words are transcribed. Off is a Realtime session without <c>input_audio_transcription</c>:
    /// only the agent's turns are reported, and the candidate's side of the transcript has to come from the recording.
    /// </summary>
    public bool TranscribeCandidate { get; set; } = true;

    /// <summary>Simulated connect time.</summary>
    public TimeSpan ConnectLatency { get; set; } = TimeSpan.Zero;

    // Failure injection; probabilities are per connect or per answer, drawn from the seeded generator.
    public double ConnectFailureRate { get; set; }
    public double DropRate { get; set; }
    public double ErrorRate { get; set; }
    public double StallRate { get; set; }

    /// <summary>The first N connects of every session fail (deterministic, for failover tests).</summary>
    public int FailFirstConnects { get; set; }

    /// <summary>Every connection drops after receiving this many frames (0 = never).</summary>
    public int DropAfterFrames { get; set; }

    /// <summary>
    /// The simulator's own session cap, enforced as OpenAI does (the session ends as expired). Unset: the session budget
    /// (<c>Providers:Simulated:Session:Budget</c>) is the cap; set it apart to play a provider whose real limit is not the configured one.
    /// </summary>
    public TimeSpan? SessionCap { get; set; }
}

public sealed class SimulatedProviderOptionsValidator : OptionsValidator<SimulatedProviderOptions>
{
    protected override void Check(string? name, SimulatedProviderOptions o, List<string> errors)
    {
        if (o.ResponseLatency < TimeSpan.Zero || o.ResponseJitter < TimeSpan.Zero || o.ConnectLatency < TimeSpan.Zero || o.ResponseDurationJitter < TimeSpan.Zero)
            errors.Add($"Providers:{name}: latencies cannot be negative.");
        if (o.ResponseDuration < TimeSpan.FromMilliseconds(20)) errors.Add($"Providers:{name}:ResponseDuration must be at least one 20 ms frame.");
        if (o.EndOfSpeechSilence < TimeSpan.FromMilliseconds(20)) errors.Add($"Providers:{name}:EndOfSpeechSilence must be at least one 20 ms frame.");
        foreach (var (rate, field) in new[] { (o.ConnectFailureRate, "ConnectFailureRate"), (o.DropRate, "DropRate"), (o.ErrorRate, "ErrorRate"), (o.StallRate, "StallRate") })
            if (rate is < 0 or > 1) errors.Add($"Providers:{name}:{field} is a probability: 0..1.");
        if (o.FailFirstConnects < 0 || o.DropAfterFrames < 0) errors.Add($"Providers:{name}: FailFirstConnects and DropAfterFrames cannot be negative.");
        if (o.SessionCap is { } cap && cap <= TimeSpan.Zero) errors.Add($"Providers:{name}:SessionCap must be positive (or unset to use the session budget); it was {cap}.");
    }
}

/// <summary>
/// How long one provider session may live and what a fresh one carries over (<c>Providers:&lt;Name&gt;:Session</c>, one per
/// provider): OpenAI Realtime ends a session at 60 minutes with an <c>error</c> event <c>session_expired</c> and a close 1001, with no
/// warning and no resume, so the link rotates to a fresh session at a turn boundary before then and replays the conversation.
/// </summary>
public sealed class ProviderSessionOptions
{
    /// <summary>The provider's session cap; null = unlimited (no planned rotation; an unplanned expiry is still recovered).</summary>
    public TimeSpan? Budget { get; set; }

    /// <summary>From <see cref="Budget"/> minus this on, the link rotates at the first turn boundary (a pause, never mid-answer).</summary>
    public TimeSpan SafetyMargin { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The last safe moment: at <see cref="Budget"/> minus this, the link rotates whatever is being said (a connect and replay must fit in it).</summary>
    public TimeSpan ForceMargin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the agent's audio must have been quiet (after the candidate's pause was answered) for a moment to count as a turn boundary.</summary>
    public TimeSpan BoundaryQuiet { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>What a replay may carry, in estimated tokens (about 4 characters each): OpenAI's input context is about 28k, and the live interview needs room too.</summary>
    public int ContextTokens { get; set; } = 12_000;

    /// <summary>The most recent turns replayed word for word; older ones are condensed to one short line each.</summary>
    public int VerbatimTurns { get; set; } = 12;

    /// <summary>Characters kept of each condensed turn.</summary>
    public int CondensedTurnChars { get; set; } = 120;

    public static ProviderSessionOptions OpenAIDefaults() => new() { Budget = TimeSpan.FromMinutes(60) };

    /// <summary>xAI's documented limit has moved between 30 and 120 minutes: the low end is the safe default.</summary>
    public static ProviderSessionOptions GrokDefaults() => new() { Budget = TimeSpan.FromMinutes(30) };

    /// <summary>When the link starts looking for a boundary, and when it rotates regardless, after a session opened.</summary>
    public (TimeSpan LookFrom, TimeSpan Deadline) Window(TimeSpan budget)
    {
        // A short budget (tests, a cautious setting) scales the margins down rather than leaving no room to serve at all.
        var force = TimeSpan.FromTicks(Math.Min(ForceMargin.Ticks, budget.Ticks / 10));
        var margin = TimeSpan.FromTicks(Math.Max(force.Ticks, Math.Min(SafetyMargin.Ticks, budget.Ticks / 2)));
        return (budget - margin, budget - force);
    }
}

public sealed class ProviderSessionOptionsValidator : OptionsValidator<ProviderSessionOptions>
{
    protected override void Check(string? name, ProviderSessionOptions o, List<string> errors)
    {
        var at = $"Providers:{name}:Session";
        if (o.Budget is { } budget && budget < TimeSpan.FromSeconds(1))
            errors.Add($"{at}:Budget must be at least 1 s (or unset for a provider without a session cap); it was {budget}.");
        if (o.SafetyMargin <= TimeSpan.Zero || o.ForceMargin <= TimeSpan.Zero || o.ForceMargin > o.SafetyMargin)
            errors.Add($"{at}: SafetyMargin and ForceMargin must be positive, ForceMargin no larger than SafetyMargin (the link looks for a pause from Budget-SafetyMargin and rotates regardless at Budget-ForceMargin).");
        if (o.BoundaryQuiet < TimeSpan.FromMilliseconds(20) || o.BoundaryQuiet > TimeSpan.FromSeconds(10))
            errors.Add($"{at}:BoundaryQuiet must be 20 ms..10 s: the agent's silence that makes a turn boundary.");
        if (o.ContextTokens is < 500 or > 200_000) errors.Add($"{at}:ContextTokens must be 500..200000 (OpenAI Realtime takes about 28672 input tokens).");
        if (o.VerbatimTurns < 1) errors.Add($"{at}:VerbatimTurns must be at least 1: the last exchange is always replayed word for word.");
        if (o.CondensedTurnChars is < 20 or > 2000) errors.Add($"{at}:CondensedTurnChars must be 20..2000.");
    }
}

/// <summary>Reconnect and failover policy of a session's provider link (<c>Providers:Failover</c>).</summary>
public sealed class ProviderFailoverOptions
{
    public const string Section = "Providers:Failover";

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failures (connect failures or drops) of one provider before the session switches to its secondary.</summary>
    public int FailuresBeforeFailover { get; set; } = 3;

    /// <summary>A connection that lasted this long resets the failure count; shorter ones count towards failover even though they connected.</summary>
    public TimeSpan HealthyConnectionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Error events within <see cref="ErrorWindow"/> that make a connection count as failed.</summary>
    public int ErrorThreshold { get; set; } = 5;

    public TimeSpan ErrorWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>No provider audio this long after the candidate stopped speaking means the provider stalled.</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Per-frame inbound latency above this is a spike worth a timeline entry (the budget is 50 ms).</summary>
    public TimeSpan LatencySpikeThreshold { get; set; } = TimeSpan.FromMilliseconds(50);
}

public sealed class ProviderFailoverOptionsValidator : OptionsValidator<ProviderFailoverOptions>
{
    protected override void Check(string? name, ProviderFailoverOptions o, List<string> errors)
    {
        if (o.ConnectTimeout <= TimeSpan.Zero) errors.Add("Providers:Failover:ConnectTimeout must be positive.");
        if (o.InitialBackoff <= TimeSpan.Zero || o.MaxBackoff < o.InitialBackoff) errors.Add("Providers:Failover: InitialBackoff must be positive and MaxBackoff at least InitialBackoff.");
        if (o.FailuresBeforeFailover < 1) errors.Add("Providers:Failover:FailuresBeforeFailover must be at least 1.");
        if (o.HealthyConnectionTime <= TimeSpan.Zero) errors.Add("Providers:Failover:HealthyConnectionTime must be positive.");
        if (o.ErrorThreshold < 1 || o.ErrorWindow <= TimeSpan.Zero) errors.Add("Providers:Failover: ErrorThreshold must be at least 1 and ErrorWindow positive.");
        if (o.StallTimeout <= TimeSpan.Zero) errors.Add("Providers:Failover:StallTimeout must be positive.");
        if (o.LatencySpikeThreshold <= TimeSpan.Zero) errors.Add("Providers:Failover:LatencySpikeThreshold must be positive.");
    }
}
