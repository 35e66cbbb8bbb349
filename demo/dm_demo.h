/* dm_demo: the `demo` command: the whole pipeline on librdkafka's mock
 * cluster and the receiver (demo/receiver), no services needed. */
#ifndef HB_DM_DEMO_H
#define HB_DM_DEMO_H

/**
 * @brief `demo`: produce one event of every kind, deliver them to the
 *        receiver, print what arrived and what was committed.
 * @returns 0 when every webhook call arrived, verified and every offset
 *          is committed; 1 otherwise; WK_EXIT_USAGE on a usage error.
 */
int dm_cmd_demo(int argc, char **argv);

#endif
