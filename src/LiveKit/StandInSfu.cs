using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace VoiceActors.LiveKit;

/// <summary>
/// Runs the stand-in SFU (<c>src/media/sfu/index.js</c>, Node) as a child process, so the official LiveKit clients can join the
/// stand-in's rooms with real audio. The SFU only carries media: it reports participants and tracks on stdout, and
/// <see cref="LiveKitStandIn"/> turns them into its rooms, ListParticipants answers and signed webhooks (one source of truth).
/// Keys go to it on stdin only. Without Node or the script the stand-in keeps working without media, and says so.
/// </summary>
public sealed partial class StandInSfu : IHostedService, IStandInMediaPlane, IAsyncDisposable
{
    private readonly LiveKitStandIn _standIn;
    private readonly StandInSfuOptions _options;
    private readonly ILogger<StandInSfu> _logger;
    private readonly Channel<string> _commands = Channel.CreateBounded<string>(new BoundedChannelOptions(4096)
    {
        SingleReader = true, FullMode = BoundedChannelFullMode.DropOldest,
    });
    private readonly TaskCompletionSource<string> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;
    private Task _pumps = Task.CompletedTask;
    private volatile bool _stopping;

    private readonly LiveKitDirectory _directory;

    public StandInSfu(LiveKitStandIn standIn, LiveKitDirectory directory, IOptions<StandInSfuOptions> options, ILogger<StandInSfu> logger)
    {
        _standIn = standIn;
        _directory = directory;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>The SFU's signal URL (<c>ws://127.0.0.1:port</c>) once it listens; null without media.</summary>
    public string? Url { get; private set; }

    /// <summary>Why there is no media plane, when there is none.</summary>
    public string? Unavailable { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            Unavailable = "disabled by LiveKit:StandInSfu:Enabled";
            return;
        }
        if (!_directory.ConfiguredRegions().Any(r => _directory.For(r).StandIn is not null))
        {
            Unavailable = "every region has a LiveKit:Url"; // the stand-in serves no region, so nobody would join its SFU
            return;
        }
        var script = MediaPlaneScripts.Find(MediaPlaneScripts.Sfu, _options.Script, AppContext.BaseDirectory);
        if (script is null)
        {
            Unavailable = $"the SFU script was not found ({(_options.Script is { Length: > 0 } configured ? configured : "src/" + MediaPlaneScripts.Sfu + " above " + AppContext.BaseDirectory)})";
            LogNoMedia(Unavailable);
            return;
        }
        var modules = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(script)!)!, "node_modules", "werift");
        if (!Directory.Exists(modules))
        {
            Unavailable = $"its npm packages are not installed: run 'npm ci' in {Path.GetDirectoryName(Path.GetDirectoryName(script))}";
            LogNoMedia(Unavailable);
            return;
        }

        var info = new ProcessStartInfo(_options.NodePath)
        {
            ArgumentList =
            {
                script, "--host", _options.Host, "--port", _options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--max-participants-per-room", _options.MaxParticipantsPerRoom.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--max-tracks-per-participant", _options.MaxTracksPerParticipant.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--signal-grace-ms", ((long)_options.SignalGrace.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        try
        {
            _process = Process.Start(info) ?? throw new InvalidOperationException("Process.Start returned null");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Unavailable = $"'{_options.NodePath}' could not be started ({e.Message}); is Node.js 20+ installed?";
            LogNoMedia(Unavailable);
            return;
        }

        _standIn.KeysChanged += SendKeys;
        SendKeys();
        _pumps = Task.WhenAll(Task.Run(WriteCommandsAsync), Task.Run(ReadEventsAsync), Task.Run(ReadLogAsync));
        try
        {
            Url = await _listening.Task.WaitAsync(_options.StartTimeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            Unavailable = $"the SFU did not listen within {_options.StartTimeout.TotalSeconds:0} s";
            LogNoMedia(Unavailable);
            await StopProcessAsync();
            return;
        }
        _standIn.AttachMedia(this);
        LogListening(Url);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _standIn.DetachMedia(this);
        await StopProcessAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _standIn.DetachMedia(this);
        await StopProcessAsync();
    }

    void IStandInMediaPlane.Remove(string room, string identity) => Send(new { op = "remove", room, identity });

    void IStandInMediaPlane.CloseRoom(string room) => Send(new { op = "close_room", room });

    /// <summary>Fault injection for tests: the SFU closes the participant's signal socket without a leave.</summary>
    public void DropSignal(string room, string identity) => Send(new { op = "drop_signal", room, identity });

    private void SendKeys() => Send(new { op = "keys", keys = _standIn.ApiSecrets() });

    private void Send(object command) => _commands.Writer.TryWrite(JsonSerializer.Serialize(command));

    private async Task WriteCommandsAsync()
    {
        var stdin = _process!.StandardInput;
        try
        {
            await foreach (var line in _commands.Reader.ReadAllAsync())
            {
                await stdin.WriteLineAsync(line);
                await stdin.FlushAsync();
            }
        }
        catch (IOException)
        {
            // the SFU exited; ReadEventsAsync reports it
        }
        finally
        {
            stdin.Close(); // the SFU exits when its stdin closes
        }
    }

    private async Task ReadEventsAsync()
    {
        var stdout = _process!.StandardOutput;
        while (await stdout.ReadLineAsync() is { } line)
        {
            try
            {
                Apply(line);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                LogBadEvent(e.GetType().Name);
            }
        }
        _commands.Writer.TryComplete();
        _listening.TrySetException(new IOException("the SFU exited before it listened"));
        _standIn.DetachMedia(this);
        if (!_stopping) LogExited(_process.HasExited ? _process.ExitCode : -1);
    }

    private async Task ReadLogAsync()
    {
        while (await _process!.StandardError.ReadLineAsync() is { } line)
            LogSfu(line); // the SFU never prints tokens or secrets (its conformance tests check it)
    }

    private void Apply(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var e = doc.RootElement;
        switch (e.GetProperty("ev").GetString())
        {
            case "listening":
                _listening.TrySetResult(e.GetProperty("url").GetString()!);
                break;
            case "participant_joined":
                _standIn.OnMediaParticipantJoined(new MediaParticipant(
                    Room: e.GetProperty("room").GetString()!,
                    Sid: e.GetProperty("sid").GetString()!,
                    Identity: e.GetProperty("identity").GetString()!,
                    Name: Str(e, "name"),
                    Kind: Str(e, "kind"),
                    Metadata: Str(e, "metadata"),
                    Hidden: Bool(e, "hidden"),
                    CanPublish: Bool(e, "canPublish"),
                    CanSubscribe: Bool(e, "canSubscribe"),
                    CanPublishData: Bool(e, "canPublishData"),
                    JoinedAt: DateTimeOffset.FromUnixTimeMilliseconds(e.GetProperty("joinedAt").GetInt64()),
                    Attributes: e.TryGetProperty("attributes", out var a) && a.ValueKind == JsonValueKind.Object
                        ? a.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "")
                        : []));
                break;
            case "participant_left":
                _standIn.OnMediaParticipantLeft(e.GetProperty("room").GetString()!, e.GetProperty("sid").GetString()!, Str(e, "reason"));
                break;
            case "track_published" or "track_unpublished":
                _standIn.OnMediaTrack(e.GetProperty("room").GetString()!, e.GetProperty("participantSid").GetString()!,
                    new LiveKitTrack(e.GetProperty("trackSid").GetString()!, Str(e, "name"), Str(e, "mimeType"), Str(e, "source"), Bool(e, "muted")),
                    published: e.GetProperty("ev").GetString() == "track_published");
                break;
            case "stats":
                Stats = line;
                break;
        }
    }

    /// <summary>The SFU's latest counters (its <c>stats</c> event, JSON).</summary>
    public string? Stats { get; private set; }

    private static string Str(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private async Task StopProcessAsync()
    {
        _commands.Writer.TryComplete();
        if (_process is not { } process) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // never started
        }
        await _pumps.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        process.Dispose();
        _process = null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stand-in SFU not started, so LiveKit clients cannot join with media (rooms, tokens and webhooks still work): {Reason}")]
    private partial void LogNoMedia(string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stand-in SFU listening on {Url}")]
    private partial void LogListening(string url);

    [LoggerMessage(Level = LogLevel.Error, Message = "Stand-in SFU exited with code {Code}; the stand-in continues without media")]
    private partial void LogExited(int code);

    [LoggerMessage(Level = LogLevel.Debug, Message = "SFU: {Line}")]
    private partial void LogSfu(string line);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stand-in SFU sent an event that could not be applied ({Error})")]
    private partial void LogBadEvent(string error);
}

/// <summary>What <see cref="LiveKitStandIn"/> asks of its media plane when its RoomService API evicts someone.</summary>
public interface IStandInMediaPlane
{
    string? Url { get; }

    void Remove(string room, string identity);

    void CloseRoom(string room);
}

/// <summary>A participant connected to the media plane, as it reported it.</summary>
public sealed record MediaParticipant(
    string Room, string Sid, string Identity, string Name, string Kind, string Metadata, bool Hidden,
    bool CanPublish, bool CanSubscribe, bool CanPublishData, DateTimeOffset JoinedAt, Dictionary<string, string> Attributes);

/// <summary>A published track (<c>livekit.TrackInfo</c>, the fields webhooks carry).</summary>
public sealed record LiveKitTrack(string Sid, string Name, string MimeType, string Source, bool Muted);

/// <summary>Configuration section <c>LiveKit:StandInSfu</c>: the Node process that carries the stand-in's media.</summary>
public sealed class StandInSfuOptions
{
    public const string Section = "LiveKit:StandInSfu";

    /// <summary>Off: the stand-in has rooms, tokens and webhooks but no media (clients cannot join).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The Node.js executable (20 or newer), looked up on PATH unless absolute.</summary>
    public string NodePath { get; set; } = "node";

    /// <summary>Path of <c>sfu/index.js</c>; unset: <c>src/media/sfu/index.js</c> found above the app's base directory.</summary>
    public string? Script { get; set; }

    /// <summary>Address the SFU binds (signal and media); loopback by default.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Signal port; 0 picks a free one.</summary>
    public int Port { get; set; }

    public int MaxParticipantsPerRoom { get; set; } = 16;

    public int MaxTracksPerParticipant { get; set; } = 4;

    /// <summary>
    /// How long a participant whose signal socket dropped stays in its room so its client can resume without a leave (LiveKit keeps
    /// it until its 15 s ping timeout). Only past it does the SFU report <c>participant_left</c>. Zero: at once.
    /// </summary>
    public TimeSpan SignalGrace { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(15);
}

public sealed class StandInSfuOptionsValidator : IValidateOptions<StandInSfuOptions>
{
    public ValidateOptionsResult Validate(string? name, StandInSfuOptions o)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.NodePath)) errors.Add($"{StandInSfuOptions.Section}:NodePath is required (the Node.js executable).");
        if (o.Port is < 0 or > 65535) errors.Add($"{StandInSfuOptions.Section}:Port must be 0 (any free port) to 65535.");
        if (o.MaxParticipantsPerRoom < 2) errors.Add($"{StandInSfuOptions.Section}:MaxParticipantsPerRoom must be at least 2: a candidate and an agent.");
        if (o.MaxTracksPerParticipant < 1) errors.Add($"{StandInSfuOptions.Section}:MaxTracksPerParticipant must be at least 1.");
        if (o.SignalGrace < TimeSpan.Zero || o.SignalGrace > TimeSpan.FromMinutes(5)) errors.Add($"{StandInSfuOptions.Section}:SignalGrace must be between 0 and 5 minutes.");
        if (o.StartTimeout <= TimeSpan.Zero) errors.Add($"{StandInSfuOptions.Section}:StartTimeout must be positive.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
