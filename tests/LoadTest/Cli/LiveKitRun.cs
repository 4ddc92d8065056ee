using VoiceActors.LoadTest.Load;
using VoiceActors.LoadTest.LiveKit;

namespace VoiceActors.LoadTest.Cli;

/// <summary>The command line's <c>--transport livekit</c>: plain progress lines, the report files, the exit code.</summary>
public static class LiveKitRun
{
    public static async Task<int> RunAsync(LoadOptions options, FileInfo? reportFile, string command, CancellationToken ct)
    {
        LiveKitLoadReport report;
        try
        {
            report = await new LiveKitLoadRunner(options, Console.WriteLine).RunAsync(command, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return LiveRun.CouldNotRun;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException)
        {
            Console.Error.WriteLine($"The load test could not run: {e}");
            return LiveRun.CouldNotRun;
        }
        await LiveRun.WriteAsync(reportFile, report.ToJson(), report.ToMarkdown());
        return report.Thresholds.Passed ? 0 : LiveRun.ThresholdsMissed;
    }
}
