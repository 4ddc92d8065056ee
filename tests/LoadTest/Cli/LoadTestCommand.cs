using System.CommandLine;
using System.CommandLine.Parsing;
using VoiceActors.LoadTest.Load;

namespace VoiceActors.LoadTest.Cli;

/// <summary>The command line: every option of <see cref="LoadOptions"/>, plus where the report goes.</summary>
public sealed class LoadTestCommand
{
    private readonly Option<int> _sessions = new("--sessions") { Description = "Concurrent sessions at the peak.", DefaultValueFactory = _ => 100 };
    private readonly Option<TimeSpan> _duration = Duration("--duration", "How long the peak is held (30s, 2m, ...).", TimeSpan.FromSeconds(30));
    private readonly Option<TimeSpan> _ramp = Duration("--ramp", "Ramp profile: the target rises from 10% to 100% over this time, holds for --duration, then falls back to 0 over the same time. 0: all at once.", TimeSpan.Zero);
    private readonly Option<double> _frameMs = new("--frame-ms") { Description = "Audio frame length in milliseconds.", DefaultValueFactory = _ => 20 };
    private readonly Option<double> _speechMs = new("--speech-ms") { Description = "Candidate speech per utterance (ms), followed by silence so the provider answers.", DefaultValueFactory = _ => 2000 };
    private readonly Option<double> _silenceMs = new("--silence-ms") { Description = "Silence after each utterance (ms).", DefaultValueFactory = _ => 4000 };
    private readonly Option<LoadCadence> _cadence = new("--cadence") { Description = "fixed: --speech-ms then --silence-ms, always. realistic: candidate answers of 10-40 s, the agent's answer (5-15 s, set on the simulated provider unless --silo-setting sets Providers:Simulated:ResponseDuration) awaited, then a 1-4 s pause; seeded.", DefaultValueFactory = _ => LoadCadence.Fixed };
    private readonly Option<int> _sampleRate = new("--sample-rate") { Description = "PCM16 sample rate of candidate audio.", DefaultValueFactory = _ => 24_000 };
    private readonly Option<TimeSpan?> _providerLatency = NullableDuration("--provider-latency", "Answer delay of the simulated provider (passed to the silos).");
    private readonly Option<double> _createRate = new("--create-rate") { Description = "Session creates per second at most; 0 = unlimited.", DefaultValueFactory = _ => 500 };
    private readonly Option<int> _silos = new("--silos") { Description = "Start this many silo processes (src/Silo) on Redis. Default: one in-process silo; 3 when chaos is asked for.", DefaultValueFactory = _ => 0 };
    private readonly Option<string?> _redis = new("--redis") { Description = "Redis connection string of an existing cluster (or of the Redis the started silos should use)." };
    private readonly Option<string> _clusterId = new("--cluster-id") { Description = "Orleans cluster id of the existing cluster (--redis without --silos).", DefaultValueFactory = _ => "voiceactors" };
    private readonly Option<TimeSpan?> _killSiloAt = NullableDuration("--kill-silo-at", "Chaos: SIGKILL one silo process at this time into the run (with --silos 1 the tester then starts a replacement silo process, so the sessions resume there).");
    private readonly Option<TimeSpan?> _drainSiloAt = NullableDuration("--drain-silo-at", "Chaos: SIGTERM (graceful drain) one silo process at this time.");
    private readonly Option<TimeSpan?> _restartRedisAt = NullableDuration("--restart-redis-at", "Chaos: kill and restart the tester's redis-server at this time.");
    private readonly Option<TimeSpan> _costSampleEvery = Duration("--cost-sample-every", "With silos started on Redis: how often to sample committed turns (session-log lengths), the largest session keys (bounded SCAN + MEMORY USAGE) and the silos' heap. Redis input and silo RSS are read every second.", TimeSpan.FromSeconds(10));
    private readonly Option<TimeSpan> _retryBudget = Duration("--retry-budget", "A session whose calls keep failing longer than this is lost.", TimeSpan.FromSeconds(20));
    private readonly Option<bool> _recordTurns = new("--record-turns") { Description = "Also write each utterance with RecordTurn (the session already checkpoints the provider's transcript turns)." };
    private readonly Option<TimeSpan> _warmup = Duration("--warmup", "The start of the run left out of the capacity figures (steady p99, max sessions at the p99 target, per-session CPU and memory).", TimeSpan.FromSeconds(10));
    private readonly Option<TimeSpan> _ceilingDuration = Duration("--ceiling-duration", "How long to drive the ping grain for the ceiling (0 skips it).", TimeSpan.FromSeconds(5));
    private readonly Option<int> _ceilingConcurrency = new("--ceiling-concurrency") { Description = "Concurrent ping callers for the ceiling.", DefaultValueFactory = _ => 512 };
    private readonly Option<TimeSpan> _admissionCeilingDuration = Duration("--admission-ceiling-duration", "Before the run, measure admission decisions and then whole creates per second for this long each (0 skips it). Creates past capacity are refused: add --silo-setting Silo:MaxConcurrentSessions=... to measure beyond it.", TimeSpan.Zero);
    private readonly Option<int> _admissionCeilingConcurrency = new("--admission-ceiling-concurrency") { Description = "Concurrent callers for the admission ceiling.", DefaultValueFactory = _ => 64 };
    private readonly Option<double?> _maxP99 = new("--max-p99-ms") { Description = "Fail (exit 1) when the audio-path p99 is above this; also the target of the 'max sessions at p99' figure (default 20)." };
    private readonly Option<int?> _maxLost = new("--max-lost") { Description = "Fail (exit 1) when more sessions than this are lost." };
    private readonly Option<FileInfo?> _report = new("--report") { Description = "Write the JSON report here (and the Markdown summary next to it, .md)." };
    private readonly Option<int> _seed = new("--seed") { Description = "Seed of the simulated speech and session offsets.", DefaultValueFactory = _ => 7 };
    private readonly Option<string[]> _siloSetting = new("--silo-setting") { Description = "Extra silo configuration KEY=VALUE (repeatable), e.g. Sessions:WatchdogPeriod=00:00:05.", AllowMultipleArgumentsPerToken = false };
    private readonly Option<bool> _siloLatency = new("--silo-latency") { Description = "Also report the in-process silo's own voice_audio_latency_ms per path (inbound, outbound, turn), after the warm-up." };
    private readonly Option<bool> _record = new("--record") { Description = "Sessions consent to recording: the silos encode, seal and store both channels (Recordings:* via --silo-setting)." };
    private readonly Option<bool> _recordS3 = new("--record-s3") { Description = "As --record, to a real S3 server the tester starts: a RADOS Gateway on loopback (about 12 s), its daemons in SCHED_IDLE so a store that production runs elsewhere does not take the silo's cores." };
    private readonly Option<LoadTransport> _transport = new("--transport") { Description = "grain: frames as grain calls through an Orleans client (default). livekit: rtc-node candidates in real rooms of a silo process's stand-in SFU, the agent through its media bridge; --duration is then the measured window after every candidate joined and --warmup passed.", DefaultValueFactory = _ => LoadTransport.Grain };
    private readonly Option<bool> _plain = new("--plain") { Description = "Plain line-per-second output instead of the live display." };

    public RootCommand Build(Func<LoadOptions, FileInfo?, bool, string, CancellationToken, Task<int>> run)
    {
        var root = new RootCommand("VoiceActors load tester: simulated voice interviews driven through an Orleans client, with chaos and a ceiling.");
        Option[] all = [_sessions, _duration, _ramp, _frameMs, _speechMs, _silenceMs, _cadence, _sampleRate, _providerLatency, _createRate, _silos, _redis,
            _clusterId, _killSiloAt, _drainSiloAt, _restartRedisAt, _costSampleEvery, _retryBudget, _recordTurns, _warmup, _ceilingDuration, _ceilingConcurrency, _admissionCeilingDuration, _admissionCeilingConcurrency, _maxP99,
            _maxLost, _report, _seed, _siloSetting, _siloLatency, _record, _recordS3, _transport, _plain];
        foreach (var o in all) root.Options.Add(o);
        root.Validators.Add(result =>
        {
            foreach (var setting in result.GetValue(_siloSetting) ?? [])
                if (!setting.Contains('=', StringComparison.Ordinal)) result.AddError($"--silo-setting '{setting}' must be KEY=VALUE.");
        });
        root.SetAction((parse, ct) =>
        {
            var options = ToOptions(parse);
            var command = "dotnet run -c Release --project tests/LoadTest -- " + string.Join(' ', parse.Tokens.Select(t => t.Value));
            return run(options, parse.GetValue(_report), parse.GetValue(_plain), command, ct);
        });
        return root;
    }

    private LoadOptions ToOptions(ParseResult p)
    {
        var settings = new Dictionary<string, string?>();
        foreach (var s in p.GetValue(_siloSetting) ?? [])
        {
            var eq = s.IndexOf('=', StringComparison.Ordinal);
            settings[s[..eq]] = s[(eq + 1)..];
        }
        return new LoadOptions
        {
            Sessions = p.GetValue(_sessions),
            Duration = p.GetValue(_duration),
            Ramp = p.GetValue(_ramp),
            FrameLength = TimeSpan.FromMilliseconds(p.GetValue(_frameMs)),
            Speech = TimeSpan.FromMilliseconds(p.GetValue(_speechMs)),
            Silence = TimeSpan.FromMilliseconds(p.GetValue(_silenceMs)),
            Cadence = p.GetValue(_cadence),
            SampleRate = p.GetValue(_sampleRate),
            ProviderLatency = p.GetValue(_providerLatency),
            CreateRate = p.GetValue(_createRate),
            SiloProcesses = p.GetValue(_silos),
            Redis = p.GetValue(_redis),
            ClusterId = p.GetValue(_clusterId)!,
            KillSiloAt = p.GetValue(_killSiloAt),
            DrainSiloAt = p.GetValue(_drainSiloAt),
            RestartRedisAt = p.GetValue(_restartRedisAt),
            RetryBudget = p.GetValue(_retryBudget),
            CostSampleEvery = p.GetValue(_costSampleEvery),
            RecordTurns = p.GetValue(_recordTurns),
            Warmup = p.GetValue(_warmup),
            CeilingDuration = p.GetValue(_ceilingDuration),
            CeilingConcurrency = p.GetValue(_ceilingConcurrency),
            AdmissionCeilingDuration = p.GetValue(_admissionCeilingDuration),
            AdmissionCeilingConcurrency = p.GetValue(_admissionCeilingConcurrency),
            MaxP99Ms = p.GetValue(_maxP99),
            MaxLost = p.GetValue(_maxLost),
            Seed = p.GetValue(_seed),
            SiloSettings = settings,
            SiloLatency = p.GetValue(_siloLatency),
            Record = p.GetValue(_record) || p.GetValue(_recordS3),
            RecordS3 = p.GetValue(_recordS3),
            Transport = p.GetValue(_transport),
        };
    }

    private static Option<TimeSpan> Duration(string name, string description, TimeSpan defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = ParseDuration,
    };

    private static Option<TimeSpan?> NullableDuration(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = r => ParseDuration(r),
    };

    private static TimeSpan ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (DurationParser.TryParse(text, out var value)) return value;
        result.AddError($"'{text}' is not a duration: use 30s, 2m, 500ms, 1h or hh:mm:ss.");
        return TimeSpan.Zero;
    }
}
