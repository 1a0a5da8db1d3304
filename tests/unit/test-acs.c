/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ACS decoding and the isolation judgement. */
#include "iom-acs.h"
#include "tests.h"

static void test_format(void) {
        char buf[128];

        ASSERT_STREQ(iom_acs_format(0, buf, sizeof(buf)), "");
        ASSERT_STREQ(iom_acs_format(0x001f, buf, sizeof(buf)),
                     "SrcValid TransBlk ReqRedir CmpltRedir UpstreamFwd");
        ASSERT_STREQ(iom_acs_format(0x0040, buf, sizeof(buf)), "DirectTrans");
        /* Bits above the defined ones (the egress vector size) are not names. */
        ASSERT_STREQ(iom_acs_format(0xff04, buf, sizeof(buf)), "ReqRedir");
        ASSERT_STREQ(iom_acs_bit_to_string(IOM_ACS_EGRESS_CONTROL), "EgressCtrl");
        ASSERT_TRUE(iom_acs_bit_to_string(0x3) == NULL);
}

static void test_isolation(void) {
        /* A root port that implements and enables SV, RR, CR, UF isolates. */
        ASSERT_TRUE(iom_acs_isolates(0x005f, 0x001d));
        /* Implemented but disabled request redirect: peers can talk. */
        ASSERT_TRUE(!iom_acs_isolates(0x005f, 0x0019));
        /* A port without upstream forwarding is not asked for it. */
        ASSERT_TRUE(iom_acs_isolates(0x000d, 0x000d));
        ASSERT_TRUE(!iom_acs_isolates(0x000d, 0x0000));
}

IOM_TEST_MAIN(IOM_TEST(test_format), IOM_TEST(test_isolation))
