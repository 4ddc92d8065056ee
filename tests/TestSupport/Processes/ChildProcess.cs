using System.Diagnostics;

namespace VoiceActors.TestSupport;

/// <summary>
/// A process the tests or the load tester started, and only such a process: its output kept (the newest lines, bounded)
/// for failure messages, killed hard on dispose.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private const int MaxOutputChars = 1_000_000;

    private readonly Queue<string> _lines = new();
    private int _chars;

    private ChildProcess(Process process, string name)
    {
        Process = process;
        Name = name;
    }

    public Process Process { get; }
    public string Name { get; }
    public int Id => Process.Id;
    public bool HasExited => Process.HasExited;

    public string Output
    {
        get { lock (_lines) return string.Join('\n', _lines) + (_lines.Count > 0 ? "\n" : ""); }
    }

    /// <param name="environment">For programs that are not configured by .NET configuration (PostgreSQL, Prometheus, node).</param>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IDictionary<string, string?>? environment = null, string? name = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (k, v) in environment) info.Environment[k] = v;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name ?? Path.GetFileName(fileName));
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        if (!process.Start()) throw new InvalidOperationException($"Could not start {child.Name} ({fileName}).");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Enqueue(line);
            _chars += line.Length + 1;
            while (_chars > MaxOutputChars) _chars -= _lines.Dequeue().Length + 1; // keep the tail: the end says why it died
        }
    }

    /// <summary>SIGKILL: no shutdown hooks, no goodbyes; what a crashed machine looks like to the cluster.</summary>
    public void KillHard()
    {
        try
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { } // already gone
    }

    /// <summary>SIGTERM: the graceful path (a silo drains its activations).</summary>
    public void Terminate()
    {
        if (!Process.HasExited) Process.Start("kill", ["-TERM", Process.Id.ToString()])!.WaitForExit();
    }

    public Task WaitForExitAsync(CancellationToken ct = default) => Process.WaitForExitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        KillHard();
        try { await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
        Process.Dispose();
    }
}
