using Microsoft.AspNetCore.Components;

namespace Platform.Dashboard.Components.Layout;

/// <summary>
/// A page that reloads its data from grain state every <see cref="Interval"/> while its circuit lives and pushes the
/// change to the browser; the first load happens in the prerender, so the page arrives with its data. A failed load
/// shows <see cref="Problem"/> (a message, never a stack trace) and is retried on the next tick.
/// </summary>
public abstract class LivePage : ComponentBase, IDisposable
{
    private readonly CancellationTokenSource _closed = new();

    protected virtual TimeSpan Interval => TimeSpan.FromSeconds(1);

    /// <summary>Why the last load failed; null when it succeeded.</summary>
    protected string? Problem { get; private set; }

    protected bool Loaded { get; private set; }

    protected abstract Task LoadAsync(CancellationToken cancellationToken);

    protected override Task OnParametersSetAsync() => LoadSafelyAsync();

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive) _ = PollAsync();
    }

    private async Task PollAsync()
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_closed.Token))
                await InvokeAsync(async () =>
                {
                    await LoadSafelyAsync();
                    StateHasChanged();
                });
        }
        catch (OperationCanceledException)
        {
            // The tab closed: the circuit disposed the page.
        }
    }

    private async Task LoadSafelyAsync()
    {
        try
        {
            await LoadAsync(_closed.Token);
            Problem = null;
            Loaded = true;
        }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Problem = $"Could not read the platform's state: {e.GetType().Name}: {e.Message}";
        }
    }

    public void Dispose()
    {
        // Not disposed: a poll may still be between ticks and read the token.
        _closed.Cancel();
        GC.SuppressFinalize(this);
    }
}
