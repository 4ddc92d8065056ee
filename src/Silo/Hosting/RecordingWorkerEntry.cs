using Microsoft.Extensions.Logging.Console;
using VoiceActors.Recording;

namespace VoiceActors.Silo.Hosting;

/// <summary>
/// The silo's binary run as its own recording worker (<see cref="RecordingWorker"/>): one deployable, started by the silo with
/// <see cref="RecordingWorker.Argument"/>. The worker logs one line per entry to stderr, which the silo reads into its own log.
/// </summary>
public static class RecordingWorkerEntry
{
    /// <summary>How the silo (or an in-process test silo, or the load tester's) starts its worker: this assembly, wherever it was loaded from.</summary>
    public static RecordingWorkerLaunch Launch { get; } = RecordingWorkerLaunch.ForAssembly(typeof(RecordingWorkerEntry).Assembly.Location);

    public static bool IsWorker(string[] args) => RecordingWorker.IsWorker(args);

    public static int Run()
    {
        using var loggers = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => o.SingleLine = true)
            .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace)); // stdout is the pipe
        return RecordingWorker.Run(loggers);
    }
}
