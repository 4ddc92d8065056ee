using Microsoft.Extensions.Options;

namespace VoiceActors.Recording;

/// <summary>Recording of consented interviews (section <c>Recordings</c>).</summary>
public sealed class RecordingOptions
{
    public const string Section = "Recordings";

    /// <summary>Each chunk is one complete Ogg Opus object of this much audio: a silo crash loses at most the chunk in progress.</summary>
    public TimeSpan ChunkDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Frames (both channels) a session may queue for its encoder before new ones are dropped: 1000 is 10 s of both sides.</summary>
    public int FrameQueue { get; set; } = 1000;

    /// <summary>Sealed chunks a session may hold while the store is slow; the oldest beyond this is dropped (counted, on the timeline).</summary>
    public int UploadQueue { get; set; } = 6;

    /// <summary>Opus bitrate of each channel, bits per second.</summary>
    public int BitratePerChannel { get; set; } = 24_000;

    /// <summary>Opus encoder complexity 0-10: CPU per session against quality; 5 keeps speech clear at a third of 10's cost.</summary>
    public int Complexity { get; set; } = 5;

    /// <summary>Opus implementation: <c>Auto</c> (libopus when it loads, else managed) or <c>Managed</c>.</summary>
    public OpusImplementation Opus { get; set; } = OpusImplementation.Auto;

    /// <summary>One object-store call that takes longer is abandoned (and retried while the chunk waits in the upload queue).</summary>
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the end of a session waits for its last chunk to be stored; what is not stored by then is dropped (counted, on the
    /// timeline). Short on purpose: at 15 s an overloaded silo's encoder backlog held 50 of 50 sessions' completes past the load
    /// tester's retry budget (BENCHMARKS.md, #15).
    /// </summary>
    public TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Embedded default store: a directory, same format and encryption as the object store. Default: the user's local data.</summary>
    public string? Directory { get; set; }

    public S3RecordingOptions S3 { get; set; } = new();

    /// <summary>Master keys by id (base64 of 32 bytes); each wraps per-interview data keys. Keep old ones to read old recordings.</summary>
    public Dictionary<string, string> MasterKeys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The master key new interviews' data keys are wrapped with.</summary>
    public string? CurrentKeyId { get; set; }

    public bool UsesS3 => !string.IsNullOrWhiteSpace(S3.ServiceUrl);

    public string ResolvedDirectory => Directory is { Length: > 0 } d ? d
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "voiceactors", "recordings");
}

/// <summary>An S3-compatible object store (<c>Recordings:S3</c>); set <c>ServiceUrl</c> to use it instead of the directory.</summary>
public sealed class S3RecordingOptions
{
    public string? ServiceUrl { get; set; }
    public string Bucket { get; set; } = "voiceactors-recordings";
    public string? AccessKey { get; set; }
    public string? SecretKey { get; set; }
    public bool ForcePathStyle { get; set; } = true;
    public string Region { get; set; } = "us-east-1";
}

public sealed class RecordingOptionsValidator : OptionsValidator<RecordingOptions>
{
    protected override void Check(string? name, RecordingOptions o, List<string> errors)
    {
        if (o.ChunkDuration < TimeSpan.FromSeconds(1) || o.ChunkDuration > TimeSpan.FromMinutes(5))
            errors.Add("Recordings:ChunkDuration must be between 00:00:01 and 00:05:00.");
        if (o.FrameQueue is < 50 or > 100_000) errors.Add("Recordings:FrameQueue must be between 50 and 100000 frames.");
        if (o.UploadQueue is < 1 or > 1000) errors.Add("Recordings:UploadQueue must be between 1 and 1000 chunks.");
        if (o.BitratePerChannel is < 6_000 or > 256_000) errors.Add("Recordings:BitratePerChannel must be between 6000 and 256000 bit/s.");
        if (o.Complexity is < 0 or > 10) errors.Add("Recordings:Complexity must be between 0 and 10.");
        if (!Enum.IsDefined(o.Opus)) errors.Add("Recordings:Opus must be Auto or Managed.");
        if (o.StoreTimeout <= TimeSpan.Zero) errors.Add("Recordings:StoreTimeout must be positive.");
        if (o.FlushTimeout <= TimeSpan.Zero) errors.Add("Recordings:FlushTimeout must be positive.");
        foreach (var (id, key) in o.MasterKeys)
        {
            if (id.Length is 0 or > 64 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                errors.Add($"Recordings:MasterKeys:{id}: a key id is 1-64 letters, digits, '-', '_' or '.'.");
            if (!IsKey(key)) errors.Add($"Recordings:MasterKeys:{id} must be the base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`).");
        }
        if (o.MasterKeys.Count > 0 && (o.CurrentKeyId is null || !o.MasterKeys.ContainsKey(o.CurrentKeyId)))
            errors.Add($"Recordings:CurrentKeyId must name one of Recordings:MasterKeys ({string.Join(", ", o.MasterKeys.Keys)}).");
        if (o.UsesS3)
        {
            if (!Uri.TryCreate(o.S3.ServiceUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                errors.Add("Recordings:S3:ServiceUrl must be an absolute http(s) URL.");
            if (string.IsNullOrWhiteSpace(o.S3.Bucket)) errors.Add("Recordings:S3:Bucket must name a bucket.");
            if (string.IsNullOrWhiteSpace(o.S3.AccessKey) || string.IsNullOrWhiteSpace(o.S3.SecretKey))
                errors.Add("Recordings:S3:AccessKey and Recordings:S3:SecretKey are required with Recordings:S3:ServiceUrl.");
            if (o.MasterKeys.Count == 0)
                errors.Add("Recordings:MasterKeys and Recordings:CurrentKeyId are required with an object store: a generated local key would not reach the other silos.");
        }
    }

    private static bool IsKey(string value)
    {
        Span<byte> buffer = stackalloc byte[48];
        return Convert.TryFromBase64String(value, buffer, out var n) && n == 32;
    }
}
