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
        var summary = report.ToMarkdown();
        if (reportFile is not null)
        {
            reportFile.Directory?.Create();
            await File.WriteAllTextAsync(reportFile.FullName, report.ToJson(), CancellationToken.None);
            await File.WriteAllTextAsync(Path.ChangeExtension(reportFile.FullName, ".md"), summary, CancellationToken.None);
        }
        Console.WriteLine();
        Console.WriteLine(summary);
        if (reportFile is not null) Console.WriteLine($"Report: {reportFile.FullName} (summary: {Path.ChangeExtension(reportFile.FullName, ".md")})");
        return report.Thresholds.Passed ? 0 : LiveRun.ThresholdsMissed;
    }
}
