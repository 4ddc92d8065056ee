using Microsoft.Extensions.Options;

namespace VoiceActors.PostSession.Transcription;

/// <summary>
/// Speech to text on recorded audio, after the interview (never on the hot path). One implementation per recognizer:
/// PocketSphinx offline, OpenAI's hosted transcription API.
/// </summary>
public interface ISpeechRecognizer
{
    /// <summary>What a transcript made by this recognizer says it came from, e.g. <c>pocketsphinx</c> or <c>openai:whisper-1</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Recognizes one speaker's audio: 24 kHz mono s16le PCM (<c>AudioFormat</c>), read forward once. Segments are in the
    /// order spoken, their times offsets from the start of the stream; silence yields none.
    /// </summary>
    Task<IReadOnlyList<RecognizedSpeech>> RecognizeAsync(Stream pcm, CancellationToken ct = default);
}

public sealed record RecognizedSpeech(TimeSpan Start, TimeSpan End, string Text);

/// <summary>The recognizer could not do its work (missing program, refused request, timeout): the transcript is retried, never stored half-done.</summary>
public sealed class SpeechRecognitionException(string recognizer, string message, Exception? inner = null)
    : Exception($"{recognizer}: {message}", inner);

/// <summary>Where transcripts come from (section <c>PostSession:Transcription</c>).</summary>
public sealed class TranscriptionOptions
{
    public const string Section = "PostSession:Transcription";

    /// <summary>
    /// <c>auto</c> (PocketSphinx when its program is installed, otherwise none), <c>pocketsphinx</c>, <c>openai</c>, or
    /// <c>none</c> (only the provider's transcript is ever stored).
    /// </summary>
    public string Recognizer { get; set; } = "auto";

    /// <summary>
    /// <c>provider-then-recording</c>: the provider's transcript when it gave one, otherwise the recording's;
    /// <c>recording</c>: the recording's whenever there is one (a recognizer of record for the deployment).
    /// </summary>
    public string Prefer { get; set; } = PreferProviderThenRecording;

    /// <summary>How long after the interview ended a recording that is not readable yet is waited for (re-delivery), before the provider's transcript is stored as it is.</summary>
    public TimeSpan RecordingWait { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Recognitions at once per silo: recognition is CPU-bound (PocketSphinx) or rate-limited (hosted).</summary>
    public int MaxConcurrent { get; set; } = 1;

    /// <summary>
    /// Recognition runs as a background job of the silo, never on the transcript grain's turn (an hour of audio takes minutes,
    /// far past the grain call timeout). A turn waits this long for the job, then lets the event come back at re-delivery.
    /// </summary>
    public TimeSpan TurnWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A finished job nobody collected (the re-delivery went to another silo) is forgotten after this.</summary>
    public TimeSpan UncollectedJobLifetime { get; set; } = TimeSpan.FromMinutes(10);

    public PocketSphinxOptions PocketSphinx { get; set; } = new();

    public OpenAiTranscriptionOptions OpenAI { get; set; } = new();

    public const string PreferProviderThenRecording = "provider-then-recording";
    public const string PreferRecording = "recording";
}

public sealed class PocketSphinxOptions
{
    /// <summary>Debian's <c>pocketsphinx</c> package installs it on the PATH.</summary>
    public string Executable { get; set; } = "pocketsphinx_continuous";

    /// <summary>Acoustic model, language model and dictionary; unset uses the installed US English model (<c>pocketsphinx-en-us</c>).</summary>
    public string? Hmm { get; set; }

    public string? LanguageModel { get; set; }

    public string? Dictionary { get; set; }

    /// <summary>One channel's recognition that takes longer is abandoned (the process killed) and retried later.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(30);
}

public sealed class OpenAiTranscriptionOptions
{
    public Uri Endpoint { get; set; } = new("https://api.openai.com/v1");

    public string Model { get; set; } = "whisper-1";

    /// <summary>Read from configuration (an environment variable in production); never logged.</summary>
    public string? ApiKey { get; set; }

    /// <summary>ISO-639-1 hint, e.g. <c>en</c>; unset lets the service detect it.</summary>
    public string? Language { get; set; }

    /// <summary>Audio sent per request: the API takes at most 25 MB, and 5 minutes of 24 kHz PCM WAV is 14.4 MB.</summary>
    public TimeSpan MaxRequestAudio { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(2);
}

public sealed class TranscriptionOptionsValidator : OptionsValidator<TranscriptionOptions>
{
    private static readonly string[] Recognizers = ["auto", "pocketsphinx", "openai", "none"];

    protected override void Check(string? name, TranscriptionOptions o, List<string> errors)
    {
        if (!Recognizers.Contains(o.Recognizer, StringComparer.OrdinalIgnoreCase))
            errors.Add($"PostSession:Transcription:Recognizer must be one of {string.Join(", ", Recognizers)} (was '{o.Recognizer}').");
        if (o.Prefer is not (TranscriptionOptions.PreferProviderThenRecording or TranscriptionOptions.PreferRecording))
            errors.Add($"PostSession:Transcription:Prefer must be '{TranscriptionOptions.PreferProviderThenRecording}' or '{TranscriptionOptions.PreferRecording}'.");
        if (o.RecordingWait < TimeSpan.Zero) errors.Add("PostSession:Transcription:RecordingWait cannot be negative.");
        if (o.MaxConcurrent is < 1 or > 64) errors.Add("PostSession:Transcription:MaxConcurrent must be 1..64.");
        if (o.TurnWait <= TimeSpan.Zero || o.TurnWait > TimeSpan.FromSeconds(20))
            errors.Add("PostSession:Transcription:TurnWait must be between 0 and 00:00:20 (the grain call timeout is 30 s).");
        if (o.UncollectedJobLifetime <= TimeSpan.Zero) errors.Add("PostSession:Transcription:UncollectedJobLifetime must be positive.");
        if (string.IsNullOrWhiteSpace(o.PocketSphinx.Executable)) errors.Add("PostSession:Transcription:PocketSphinx:Executable must name the program.");
        if (o.PocketSphinx.Timeout <= TimeSpan.Zero) errors.Add("PostSession:Transcription:PocketSphinx:Timeout must be positive.");
        if (!o.OpenAI.Endpoint.IsAbsoluteUri) errors.Add("PostSession:Transcription:OpenAI:Endpoint must be an absolute URL.");
        if (string.IsNullOrWhiteSpace(o.OpenAI.Model)) errors.Add("PostSession:Transcription:OpenAI:Model must name the transcription model.");
        if (o.OpenAI.MaxRequestAudio < TimeSpan.FromSeconds(30) || o.OpenAI.MaxRequestAudio > TimeSpan.FromMinutes(8))
            errors.Add("PostSession:Transcription:OpenAI:MaxRequestAudio must be 30 s..8 min: the API takes at most 25 MB per request.");
        if (o.OpenAI.Timeout <= TimeSpan.Zero) errors.Add("PostSession:Transcription:OpenAI:Timeout must be positive.");
        if (o.Recognizer.Equals("openai", StringComparison.OrdinalIgnoreCase) && string.IsNullOrWhiteSpace(o.OpenAI.ApiKey))
            errors.Add("PostSession:Transcription:OpenAI:ApiKey must be set when the recognizer is 'openai'.");
    }
}
