using System.Diagnostics;
using System.Text;

namespace VoiceActors.LoadTest.Cluster;

/// <summary>A process the tester started: its output kept (bounded) for error messages, killed on dispose.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();

    private ChildProcess(Process process, string name)
    {
        Process = process;
        Name = name;
    }

    public Process Process { get; }
    public string Name { get; }
    public bool HasExited => Process.HasExited;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
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
        var child = new ChildProcess(process, name);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        if (!process.Start()) throw new InvalidOperationException($"Could not start {name} ({fileName}).");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            if (_output.Length > 200_000) _output.Remove(0, 100_000); // keep the tail: the end says why it died
            _output.AppendLine(line);
        }
    }

    /// <summary>SIGKILL: what a crashed machine looks like to the cluster.</summary>
    public void KillHard()
    {
        try
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { } // already gone
    }

    /// <summary>SIGTERM: the graceful path (the silo drains its activations).</summary>
    public void Terminate()
    {
        if (!Process.HasExited) Process.Start("kill", ["-TERM", Process.Id.ToString()])!.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        KillHard();
        try { await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); } catch (TimeoutException) { }
        Process.Dispose();
    }
}
