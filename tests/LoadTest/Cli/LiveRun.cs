using System.Collections.Concurrent;
using System.Globalization;
using Spectre.Console;
using VoiceActors.LoadTest.Load;
using VoiceActors.LoadTest.Reporting;

namespace VoiceActors.LoadTest.Cli;

/// <summary>Runs one load test for the command line: live display (or plain lines when output is redirected), report files, exit code.</summary>
public static class LiveRun
{
    public const int ThresholdsMissed = 1;
    public const int CouldNotRun = 2;

    public static async Task<int> RunAsync(LoadOptions options, FileInfo? reportFile, bool plain, string command, CancellationToken ct)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            foreach (var e in errors) Console.Error.WriteLine(e);
            return CouldNotRun;
        }
        if (options.Transport == LoadTransport.LiveKit) return await LiveKitRun.RunAsync(options, reportFile, command, ct);
        LoadReport report;
        try
        {
            report = plain || Console.IsOutputRedirected
                ? await RunPlainAsync(options, command, ct)
                : await RunLiveAsync(options, command, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return CouldNotRun;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            Console.Error.WriteLine($"The load test could not run: {e}");
            return CouldNotRun;
        }

        await WriteAsync(reportFile, report.ToJson(), MarkdownSummary.Render(report));
        return report.Thresholds.Passed ? 0 : ThresholdsMissed;
    }

    /// <summary>The JSON report to <paramref name="reportFile"/> and its summary next to it (.md), and the summary to the console.</summary>
    public static async Task WriteAsync(FileInfo? reportFile, string json, string summary)
    {
        if (reportFile is not null)
        {
            reportFile.Directory?.Create();
            await File.WriteAllTextAsync(reportFile.FullName, json, CancellationToken.None);
            await File.WriteAllTextAsync(Path.ChangeExtension(reportFile.FullName, ".md"), summary, CancellationToken.None);
        }
        Console.WriteLine();
        Console.WriteLine(summary);
        if (reportFile is not null) Console.WriteLine($"Report: {reportFile.FullName} (summary: {Path.ChangeExtension(reportFile.FullName, ".md")})");
    }

    private static Task<LoadReport> RunPlainAsync(LoadOptions options, string command, CancellationToken ct)
    {
        var runner = new LoadRunner(options, TimeProvider.System,
            status => Console.WriteLine(Line(status)),
            message => Console.WriteLine(message));
        return runner.RunAsync(command, ct);
    }

    private static async Task<LoadReport> RunLiveAsync(LoadOptions options, string command, CancellationToken ct)
    {
        LiveStatus? latest = null;
        var messages = new ConcurrentQueue<string>();
        var runner = new LoadRunner(options, TimeProvider.System, status => latest = status, message =>
        {
            messages.Enqueue(message);
            while (messages.Count > 6) messages.TryDequeue(out _);
        });
        LoadReport? report = null;
        await AnsiConsole.Live(Render(null, messages)).AutoClear(false).StartAsync(async live =>
        {
            var run = runner.RunAsync(command, ct);
            while (!run.IsCompleted)
            {
                live.UpdateTarget(Render(latest, messages));
                await Task.WhenAny(run, Task.Delay(500, CancellationToken.None));
            }
            report = await run;
            live.UpdateTarget(Render(latest, messages));
        });
        return report!;
    }

    private static Table Render(LiveStatus? status, IEnumerable<string> messages)
    {
        var table = new Table().Border(TableBorder.Rounded).Expand();
        // Short headers: the table must fit an 80-column terminal. "p99" is the audio path's over the last second.
        table.AddColumn("t").AddColumn("target").AddColumn("active").AddColumn("out/s").AddColumn("in/s")
            .AddColumn("p99 ms").AddColumn("lost").AddColumn("errors").AddColumn("cores").AddColumn("MiB");
        if (status is { } s)
        {
            var w = s.Window;
            var progress = Math.Clamp(w.T / s.Total.TotalSeconds, 0, 1);
            table.Title = new TableTitle($"[bold]VoiceActors load test[/] {Bar(progress)} {progress:P0}");
            var p99 = w.Samples == 0 ? "-" : w.P99Ms.ToString("0.00", CultureInfo.InvariantCulture);
            var lost = Interlocked.Read(ref s.Stats.SessionsLost);
            table.AddRow(
                $"{w.T:0}s / {s.Total.TotalSeconds:0}s", w.Target.ToString(CultureInfo.InvariantCulture), w.Active.ToString(CultureInfo.InvariantCulture),
                w.FramesSentPerS.ToString("N0", CultureInfo.InvariantCulture), w.FramesReceivedPerS.ToString("N0", CultureInfo.InvariantCulture),
                p99, lost == 0 ? "0" : $"[red]{lost}[/]", Interlocked.Read(ref s.Stats.Errors).ToString(CultureInfo.InvariantCulture),
                w.SiloCpuCores?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-", w.SiloWorkingSetMb?.ToString("0", CultureInfo.InvariantCulture) ?? "-");
        }
        else
        {
            table.Title = new TableTitle("[bold]VoiceActors load test[/] starting");
        }
        table.Caption = new TableTitle(Markup.Escape(string.Join("\n", messages)));
        return table;
    }

    private static string Bar(double fraction)
    {
        var filled = (int)(fraction * 30);
        return "[green]" + new string('#', filled) + "[/][grey]" + new string('.', 30 - filled) + "[/]";
    }

    private static string Line(LiveStatus s)
    {
        var w = s.Window;
        return string.Create(CultureInfo.InvariantCulture,
            $"{w.T,6:0.0}s target {w.Target,5} active {w.Active,5} out {w.FramesSentPerS,8:N0}/s in {w.FramesReceivedPerS,8:N0}/s p99 {w.P99Ms,8:0.00} ms lost {Interlocked.Read(ref s.Stats.SessionsLost)} errors {Interlocked.Read(ref s.Stats.Errors)} silo cores {w.SiloCpuCores?.ToString("0.00", CultureInfo.InvariantCulture) ?? "-"} MiB {w.SiloWorkingSetMb?.ToString("0", CultureInfo.InvariantCulture) ?? "-"}{(w.RedisInputBytesPerS is { } r ? string.Create(CultureInfo.InvariantCulture, $" redis in {r:N0} B/s RSS {w.SiloRssMb:0} MiB tester heap {w.TesterHeapMb:0} MiB") : "")}{(w.TurnsCommitted is { } t ? string.Create(CultureInfo.InvariantCulture, $" turns {t} B/turn {w.RedisBytesPerTurn?.ToString("0", CultureInfo.InvariantCulture) ?? "-"} largest state {w.LargestStateKeyBytes} B log {w.LargestLogKeyBytes} B heap {w.SiloManagedHeapMb:0} MiB") : "")}");
    }
}
