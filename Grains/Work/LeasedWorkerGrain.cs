using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace Platform.Grains.Work;

/// <summary>
/// A worker grain that runs one attempt of leased work per activation (key: the attempt), off the grain scheduler, through
/// <see cref="LeasedWorkRunner"/> under the silo's work slots; <see cref="Start"/> returns at once and the worker reports to its
/// coordinator. A silo that stops takes its attempts with it.
/// </summary>
public abstract class LeasedWorkerGrain<TAssignment>(IWorkSlots slots, ILocalSiloDetails silo, IHostApplicationLifetime lifetime, ILogger logger) : Grain
{
    private Task? running;

    protected ILogger Logger { get; } = logger;

    /// <summary>How the attempt's reports name where it runs: this silo's address.</summary>
    protected string Worker => silo.SiloAddress.ToString();

    /// <summary>Cancelled when this silo stops: its attempts stop with it.</summary>
    protected CancellationToken SiloStopping => lifetime.ApplicationStopping;

    public Task Start(TAssignment assignment)
    {
        // A repeated Start (a retried dispatch) joins the attempt already running here.
        var grains = GrainFactory;
        running ??= Task.Run(() => RunAsync(grains, assignment));
        return Task.CompletedTask;
    }

    protected abstract Task RunAsync(IGrainFactory grains, TAssignment assignment);

    /// <param name="measure">The attempt's progress once it holds a slot (see <see cref="WorkProgress.Done"/>); null: not measured.</param>
    protected Task<WorkRunOutcome> RunLeasedAsync(LeasedWork work, Func<CancellationToken, Task<WorkReport>> run, Func<long>? measure) =>
        LeasedWorkRunner.RunAsync(work, Worker, slots, run, measure, Logger, SiloStopping,
            reportRetry: ServiceProvider.GetService<IOptions<StorageRetryOptions>>()?.Value);
}
