/* nosym -- a shared object without atum_plugin_entry (tests). */
int nosym_something(void);

int nosym_something(void)
{
    return 42;
}
