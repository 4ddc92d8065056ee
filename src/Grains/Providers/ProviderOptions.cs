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

    /// <summary>How long each answer speaks.</summary>
    public TimeSpan ResponseDuration { get; set; } = TimeSpan.FromSeconds(1);

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
}

public sealed class SimulatedProviderOptionsValidator : OptionsValidator<SimulatedProviderOptions>
{
    protected override void Check(string? name, SimulatedProviderOptions o, List<string> errors)
    {
        if (o.ResponseLatency < TimeSpan.Zero || o.ResponseJitter < TimeSpan.Zero || o.ConnectLatency < TimeSpan.Zero)
            errors.Add($"Providers:{name}: latencies cannot be negative.");
        if (o.ResponseDuration < TimeSpan.FromMilliseconds(20)) errors.Add($"Providers:{name}:ResponseDuration must be at least one 20 ms frame.");
        if (o.EndOfSpeechSilence < TimeSpan.FromMilliseconds(20)) errors.Add($"Providers:{name}:EndOfSpeechSilence must be at least one 20 ms frame.");
        foreach (var (rate, field) in new[] { (o.ConnectFailureRate, "ConnectFailureRate"), (o.DropRate, "DropRate"), (o.ErrorRate, "ErrorRate"), (o.StallRate, "StallRate") })
            if (rate is < 0 or > 1) errors.Add($"Providers:{name}:{field} is a probability: 0..1.");
        if (o.FailFirstConnects < 0 || o.DropAfterFrames < 0) errors.Add($"Providers:{name}: FailFirstConnects and DropAfterFrames cannot be negative.");
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
